//! CSV export of the finance tables. Values are written exactly as the API
//! sent them (decimal strings), quoted per RFC 4180.

use std::path::{Path, PathBuf};

use chrono::Utc;

use super::views::FinanceView;
use super::CoreError;

/// Quotes a field when it holds a comma, quote or line break.
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

pub fn csv(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = header.iter().map(|h| csv_field(h)).collect::<Vec<_>>().join(",");
    out.push_str("\r\n");
    for row in rows {
        out.push_str(&row.iter().map(|c| csv_field(c)).collect::<Vec<_>>().join(","));
        out.push_str("\r\n");
    }
    out
}

/// The table `kind` of the finance view as CSV: `expirations` (by
/// customer), `breakage` or `reconciliation`. Returns the text and its row count.
pub fn finance_csv(view: &FinanceView, kind: &str) -> Result<(String, usize), CoreError> {
    let (header, rows): (&[&str], Vec<Vec<String>>) = match kind {
        "expirations" => (
            &["customer_id", "credit_type_id", "grants", "credits", "value", "currency", "paid_credits", "rolls_over"],
            view.by_customer
                .rows
                .iter()
                .map(|r| {
                    vec![
                        r.customer_id.clone().unwrap_or_default(),
                        r.credit_type_id.clone(),
                        r.grants.to_string(),
                        r.credits.to_string(),
                        r.value.amount.to_string(),
                        r.value.currency.clone(),
                        r.paid_credits.to_string(),
                        r.rolls_over.to_string(),
                    ]
                })
                .collect(),
        ),
        "breakage" => (
            &["month", "credit_type_id", "category", "expired", "expired_value", "voided", "voided_value", "currency"],
            view.breakage
                .rows
                .iter()
                .map(|r| {
                    vec![
                        r.month.map(|m| m.to_string()).unwrap_or_default(),
                        r.credit_type_id.clone(),
                        r.category.as_str().to_owned(),
                        r.expired.to_string(),
                        r.expired_value.amount.to_string(),
                        r.voided.to_string(),
                        r.voided_value.amount.to_string(),
                        r.expired_value.currency.clone(),
                    ]
                })
                .collect(),
        ),
        "reconciliation" => (
            &["period", "credit_type_id", "events", "rated", "burned", "overage", "difference"],
            view.reconciliation
                .rows
                .iter()
                .map(|r| {
                    vec![
                        r.period.to_string(),
                        r.credit_type_id.clone(),
                        r.events.to_string(),
                        r.rated.to_string(),
                        r.burned.to_string(),
                        r.overage.to_string(),
                        r.difference.to_string(),
                    ]
                })
                .collect(),
        ),
        _ => return Err(CoreError::input("kind", "must be expirations, breakage or reconciliation")),
    };
    Ok((csv(header, &rows), rows.len()))
}

/// Writes `text` to `dir/creditdesk-<kind>-<UTC timestamp>.csv`.
pub fn write_export(dir: &Path, kind: &str, text: &str) -> Result<PathBuf, CoreError> {
    std::fs::create_dir_all(dir).map_err(|e| CoreError::io(dir, e))?;
    let path = dir.join(format!("creditdesk-{kind}-{}.csv", Utc::now().format("%Y%m%dT%H%M%SZ")));
    std::fs::write(&path, text).map_err(|e| CoreError::io(&path, e))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_only_what_needs_it() {
        assert_eq!(csv_field("12.5"), "12.5");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        let text = csv(&["a", "b"], &[vec!["1".into(), "x\ny".into()]]);
        assert_eq!(text, "a,b\r\n1,\"x\ny\"\r\n");
    }
}
