//! Problem: sqlyard logs in to the servers with the client's own user name,
//! so it needs that user's credentials in a form the servers accept. A user
//! configured with a plain password is ready at once; a user configured only
//! by its mysql_native_password hash becomes usable once a client has logged
//! in, because the client's proof yields SHA1(password), which is all the
//! native scheme needs.

use std::sync::Arc;

use dashmap::DashMap;

use crate::config::Secret;

/// What sqlyard knows about one user's password.
#[derive(Clone, Default)]
pub struct BackendCredential {
    pub user: String,
    /// Plain text, when configured so.
    pub password: Option<Secret>,
    /// SHA1(password), known from a plain password or recovered at login.
    pub sha1: Option<[u8; 20]>,
}

impl std::fmt::Debug for BackendCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackendCredential")
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("sha1", &self.sha1.map(|_| "***"))
            .finish()
    }
}

impl BackendCredential {
    pub fn plain(user: &str, password: Secret) -> Self {
        use sha1::{Digest, Sha1};
        let sha1: [u8; 20] = Sha1::digest(password.expose().as_bytes()).into();
        BackendCredential {
            user: user.to_string(),
            password: Some(password),
            sha1: Some(sha1),
        }
    }
}

/// The credentials of every user, shared by all pools.
#[derive(Default, Clone)]
pub struct Credentials {
    inner: Arc<DashMap<String, BackendCredential>>,
}

impl Credentials {
    pub fn get(&self, user: &str) -> Option<BackendCredential> {
        self.inner.get(user).map(|c| c.clone())
    }

    pub fn set(&self, cred: BackendCredential) {
        self.inner.insert(cred.user.clone(), cred);
    }

    /// Records SHA1(password) learnt from a client's successful login.
    pub fn learn_sha1(&self, user: &str, sha1: [u8; 20]) {
        let mut e = self
            .inner
            .entry(user.to_string())
            .or_insert_with(|| BackendCredential {
                user: user.to_string(),
                ..Default::default()
            });
        if e.sha1.is_none() {
            e.sha1 = Some(sha1);
        }
    }

    /// Records the password a client sent in clear over TLS (and checked
    /// against the configured hash), for a user configured by hash only.
    pub fn learn_password(&self, user: &str, password: Secret) {
        let learned = BackendCredential::plain(user, password);
        let mut e = self
            .inner
            .entry(user.to_string())
            .or_insert_with(|| learned.clone());
        if e.password.is_none() {
            *e = learned;
        }
    }

    pub fn remove_missing(&self, keep: &[String]) {
        self.inner.retain(|k, _| keep.iter().any(|u| u == k));
    }
}
