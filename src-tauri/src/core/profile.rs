//! The connection profile: which billing API the app talks to, kept in the
//! app's config directory. `connection.json` holds the server URL, `token`
//! the bearer token (mode 0600, written to a temporary file and renamed, so
//! it is never readable by others, not even for a moment). No profile means
//! embedded mode. The embedded server's own token is `embedded-token` in
//! the data directory, under the same rules.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::CoreError;

/// A remote server and how to sign in to it.
#[derive(Clone, PartialEq, Eq)]
pub struct Remote {
    pub server_url: String,
    pub token: String,
}

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Remote").field("server_url", &self.server_url).finish_non_exhaustive()
    }
}

#[derive(Serialize, Deserialize)]
struct ConnectionFile {
    server_url: String,
}

/// Where the profile lives.
#[derive(Clone, Debug)]
pub struct Profiles {
    config: PathBuf,
    data: PathBuf,
}

impl Profiles {
    pub fn new(config: PathBuf, data: PathBuf) -> Profiles {
        Profiles { config, data }
    }

    pub fn data_dir(&self) -> &Path {
        &self.data
    }

    /// The embedded server's SQLite file.
    pub fn embedded_db(&self) -> PathBuf {
        self.data.join("embedded.db")
    }

    /// The configured remote server, if any.
    pub fn remote(&self) -> Result<Option<Remote>, CoreError> {
        let conn = self.config.join("connection.json");
        let text = match fs::read_to_string(&conn) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(CoreError::io(&conn, e)),
        };
        let file: ConnectionFile = serde_json::from_str(&text)
            .map_err(|e| CoreError::Settings(format!("{} is not valid: {e}", conn.display())))?;
        let token = read_secret(&self.config.join("token"))?.unwrap_or_default();
        Ok(Some(Remote { server_url: file.server_url, token }))
    }

    pub fn save_remote(&self, remote: &Remote) -> Result<(), CoreError> {
        fs::create_dir_all(&self.config).map_err(|e| CoreError::io(&self.config, e))?;
        write_secret(&self.config.join("token"), &remote.token)?;
        let text = serde_json::to_string_pretty(&ConnectionFile { server_url: remote.server_url.clone() })
            .expect("a string serialises");
        let path = self.config.join("connection.json");
        fs::write(&path, text).map_err(|e| CoreError::io(&path, e))
    }

    /// Forgets the remote server (and its token): back to embedded mode.
    pub fn clear_remote(&self) -> Result<(), CoreError> {
        for name in ["connection.json", "token"] {
            let path = self.config.join(name);
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(CoreError::io(&path, e)),
            }
        }
        Ok(())
    }

    pub fn embedded_token(&self) -> Result<Option<String>, CoreError> {
        read_secret(&self.data.join("embedded-token"))
    }

    pub fn save_embedded_token(&self, token: &str) -> Result<(), CoreError> {
        fs::create_dir_all(&self.data).map_err(|e| CoreError::io(&self.data, e))?;
        write_secret(&self.data.join("embedded-token"), token)
    }
}

fn read_secret(path: &Path) -> Result<Option<String>, CoreError> {
    match fs::read_to_string(path) {
        Ok(t) => Ok(Some(t.trim().to_owned())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(CoreError::io(path, e)),
    }
}

/// Writes `secret` to `path` with mode 0600 (created that way, then renamed over).
fn write_secret(path: &Path, secret: &str) -> Result<(), CoreError> {
    let tmp = path.with_extension("tmp");
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let _ = fs::remove_file(&tmp);
    let mut file = options.open(&tmp).map_err(|e| CoreError::io(&tmp, e))?;
    file.write_all(secret.as_bytes()).and_then(|_| file.sync_all()).map_err(|e| CoreError::io(&tmp, e))?;
    fs::rename(&tmp, path).map_err(|e| CoreError::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_round_trips_and_the_token_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let p = Profiles::new(dir.path().join("config"), dir.path().join("data"));
        assert_eq!(p.remote().unwrap(), None, "no profile: embedded mode");
        let remote = Remote { server_url: "https://billing.example.com".into(), token: "cdk_secret".into() };
        p.save_remote(&remote).unwrap();
        assert_eq!(p.remote().unwrap(), Some(remote.clone()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.path().join("config/token")).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(!fs::read_to_string(dir.path().join("config/connection.json")).unwrap().contains("cdk_secret"));
        assert!(!format!("{remote:?}").contains("cdk_secret"), "Debug hides the token");
        p.clear_remote().unwrap();
        assert_eq!(p.remote().unwrap(), None);
        p.clear_remote().unwrap();
    }

    #[test]
    fn a_broken_profile_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("connection.json"), "{").unwrap();
        let p = Profiles::new(dir.path().into(), dir.path().into());
        let err = p.remote().unwrap_err().to_string();
        assert!(err.contains("connection.json"), "{err}");
    }
}
