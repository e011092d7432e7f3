//! Administrator accounts: the superuser made at first start, sign-in with lock-outs, browser
//! sessions and API tokens, groups and rights, and the security log.
//!
//! Every request looks its session or token up by the SHA-256 of the secret it presents, first in
//! a small cache in memory, else in the database (where every server sharing it finds it). A
//! cached sign-in is re-read after [`RECHECK`] at the latest; any change to accounts, rights,
//! sessions or tokens empties the cache of this server at once and, through the change bus, of
//! every other server. A session's last use is written at most once per [`TOUCH_EVERY`].

pub mod api;
mod page;
mod recovery;
pub(crate) mod secret;
pub mod security;
mod sessions;
mod store;
mod throttle;

pub use page::Pages;
pub use secret::generated_password;
pub use secret::same as same_secret;

use crate::cluster::Bus;
use crate::cluster::bus::{Remote, Topic};
use crate::config::Config;
use crate::db::{Db, DbError};
use crate::http::auth::{Authenticate, Lookup, SignedIn, Unknown, Via};
use crate::workers::Workers;
use anyhow::Context;
use app::api::{LiveEvent, Me};
use app::model::SUPERUSER;
use moka::sync::Cache;
use secret::Secret;
use std::sync::Arc;
use std::time::Duration;

/// How long a cached sign-in is believed without reading the database again.
const RECHECK: Duration = Duration::from_secs(30);
/// How often a session's last use is written.
const TOUCH_EVERY: i64 = 60_000;

/// Unix milliseconds of this server's clock.
pub use crate::workers::unix_millis as now;

/// What a cached sign-in is found by: a session's or a token's SHA-256 (no text to allocate per
/// request).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Key {
    token: bool,
    hash: [u8; 32],
}

/// A cached sign-in with what its expiry is judged by.
struct Cached {
    signed_in: Arc<SignedIn>,
    created_at: i64,
    /// Last use seen by this server, and last written.
    last_seen: std::sync::atomic::AtomicI64,
    last_written: std::sync::atomic::AtomicI64,
    expires_at: Option<i64>,
}

#[derive(Clone, Copy, Debug)]
pub struct Policy {
    pub idle: i64,
    pub max: i64,
    pub max_failures: u32,
    pub lockout: i64,
}

pub struct Accounts {
    db: Db,
    bus: Bus,
    policy: Policy,
    cache: Cache<Key, Arc<Cached>>,
    /// Counts changes to accounts: a sign-in read from the database while it moved may be
    /// outdated already, and is not cached.
    generation: std::sync::atomic::AtomicU64,
    /// The path the cookies are sent for: the base path, or `/`.
    cookie_path: String,
    metrics: Arc<crate::metrics::Metrics>,
}

/// Why a sign-in was refused.
#[derive(Debug)]
pub enum Refused {
    /// Wrong username or password (which of the two is not said).
    Wrong,
    Disabled,
    /// Locked out until then (Unix milliseconds); `address` when the source address is locked.
    Locked {
        until: i64,
        address: bool,
    },
    Db(DbError),
}

impl From<DbError> for Refused {
    fn from(e: DbError) -> Self {
        Refused::Db(e)
    }
}

/// A new browser session's secrets, for the cookies.
pub struct NewSession {
    pub secret: Secret,
    pub csrf: Secret,
    pub me: Me,
}

/// The id of the account named `username`, if there is one.
pub async fn store_credentials(db: &Db, username: &str) -> Result<Option<i64>, DbError> {
    Ok(store::credentials(db, username).await?.map(|c| c.id))
}

impl Accounts {
    /// Creates the superuser at first start, and follows account changes of other servers.
    pub async fn start(
        db: Db,
        bus: Bus,
        config: &Config,
        workers: &Workers,
        metrics: Arc<crate::metrics::Metrics>,
    ) -> anyhow::Result<Arc<Accounts>> {
        let accounts = Accounts::open(db, bus, config, metrics)?;
        accounts
            .create_superuser(config.admin_password.as_ref().map(|p| p.expose()))
            .await
            .context("creating the superuser")?;
        let mut remote = accounts.bus.follow();
        let follower = accounts.clone();
        workers.spawn("accounts-follower", async move {
            loop {
                match remote.recv().await {
                    Ok(Remote::Changed(Topic::Accounts, _)) | Ok(Remote::Reconnected) => {
                        follower.forget_sign_ins();
                        follower.bus.publish(LiveEvent::AccountsChanged);
                    }
                    Ok(_) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                        follower.forget_sign_ins()
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                }
            }
        });
        let purger = accounts.clone();
        workers.every("session-purge", Duration::from_secs(300), move || {
            let purger = purger.clone();
            async move {
                let p = purger.policy;
                sessions::purge(&purger.db, now(), p.idle, p.max).await?;
                throttle::purge(&purger.db, now(), p.lockout).await?;
                Ok(())
            }
        });
        Ok(accounts)
    }

    /// The accounts of the database, without anything running: for the command line.
    pub fn open(
        db: Db,
        bus: Bus,
        config: &Config,
        metrics: Arc<crate::metrics::Metrics>,
    ) -> anyhow::Result<Arc<Accounts>> {
        let base = config.base_path()?;
        Ok(Arc::new(Accounts {
            db,
            bus,
            policy: Policy {
                idle: (config.session_idle_secs.max(1) * 1000) as i64,
                max: (config.session_max_secs.max(1) * 1000) as i64,
                max_failures: config.sign_in_max_failures.max(1),
                lockout: (config.sign_in_lockout_secs.max(1) * 1000) as i64,
            },
            cookie_path: if base.is_empty() {
                "/".to_owned()
            } else {
                base
            },
            generation: Default::default(),
            metrics,
            cache: Cache::builder()
                .max_capacity(10_000)
                .time_to_live(RECHECK)
                .build(),
        }))
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn policy(&self) -> Policy {
        self.policy
    }

    async fn create_superuser(&self, password: Option<&str>) -> anyhow::Result<()> {
        if store::superuser_exists(&self.db).await? {
            return Ok(());
        }
        let (password, generated) = match password {
            Some(p) => {
                app::model::check_password(p, SUPERUSER)
                    .map_err(|e| anyhow::anyhow!("PHAROS_ADMIN_PASSWORD is too weak: {e}"))?;
                (p.to_owned(), false)
            }
            None => (secret::generated_password(), true),
        };
        let hash = secret::hash_password(password.clone()).await?;
        let mut tx = self.db.begin().await?;
        let created = store::insert_user(&mut tx, SUPERUSER, &hash, true).await?;
        tx.commit().await?;
        if created.is_some() {
            if generated {
                // shown once, on purpose: the only way to learn it
                println!(
                    "Created the superuser \"{SUPERUSER}\" with the password {password}\n\
                     (shown only now; sign in and change it, or set PHAROS_ADMIN_PASSWORD before the first start)"
                );
            }
            tracing::info!(user = SUPERUSER, generated, "created the superuser");
            security::record(
                &self.db,
                security::Event {
                    event: "account_created",
                    username: Some(SUPERUSER),
                    detail: Some("superuser, at first start".into()),
                    ..Default::default()
                },
            )
            .await;
        }
        Ok(())
    }

    /// Empties the cache of sign-ins; one being read from the database now is not cached.
    fn forget_sign_ins(&self) {
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.cache.invalidate_all();
    }

    /// Tells every server that accounts changed: cached sign-ins are read again.
    pub async fn changed(&self) {
        self.forget_sign_ins();
        self.bus.publish(LiveEvent::AccountsChanged);
        if let Ok(mut tx) = self.db.begin().await
            && self
                .bus
                .notify(&mut tx, Topic::Accounts, None)
                .await
                .is_ok()
        {
            let _ = tx.commit().await;
        }
    }

    async fn me(&self, user: i64, username: String, superuser: bool) -> Result<Me, DbError> {
        Ok(Me {
            id: user,
            username,
            rights: store::rights(&self.db, user, superuser).await?,
        })
    }

    /// Checks a username and password against the lock-outs and the stored hash: the account on
    /// success. Every attempt counts as a failure of the account and the address before the
    /// password is checked (so attempts sent at once cannot pass the limit together), and is
    /// forgiven if the password was right; earlier failures slow the next try.
    pub async fn check_password(
        &self,
        username: &str,
        password: &str,
        source: Option<&str>,
    ) -> Result<Me, Refused> {
        let checked = self.check(username, password, source).await;
        let reason = match &checked {
            Err(Refused::Wrong) => "wrong",
            Err(Refused::Disabled) => "disabled",
            Err(Refused::Locked { .. }) => "locked_out",
            Ok(_) | Err(Refused::Db(_)) => return checked,
        };
        self.metrics.sign_in_failed(reason);
        checked
    }

    async fn check(
        &self,
        username: &str,
        password: &str,
        source: Option<&str>,
    ) -> Result<Me, Refused> {
        // (what an anonymous caller sends is kept short before it is stored anywhere)
        let username: String = username
            .chars()
            .take(app::model::USERNAME_MAX_LEN)
            .collect();
        let username = username.as_str();
        let now = now();
        let user_key = throttle::user_key(username);
        let address_key = source.map(throttle::address_key);
        let keys: Vec<String> = std::iter::once(user_key.clone())
            .chain(address_key.clone())
            .collect();
        if let Some((key, until)) = throttle::locked(&self.db, &keys, now).await? {
            return Err(Refused::Locked {
                until,
                address: key.starts_with("ip:"),
            });
        }
        let max = self.policy.max_failures;
        let mut started = None;
        let mut earlier = 0;
        for key in &keys {
            let (count, lock) =
                throttle::fail(&self.db, key, now, self.policy.lockout, max).await?;
            if count > i64::from(max) {
                // another attempt at the same time reached the limit first
                return Err(Refused::Locked {
                    until: now + self.policy.lockout,
                    address: key.starts_with("ip:"),
                });
            }
            if key == &user_key {
                earlier = count - 1;
            }
            if let Some(until) = lock {
                started = Some((key.starts_with("ip:"), until, key.clone()));
            }
        }
        // earlier failures slow every further try down a little more
        if earlier >= 2 {
            tokio::time::sleep(Duration::from_millis(200 * (earlier as u64 - 1).min(5))).await;
        }
        let account = store::credentials(&self.db, username).await?;
        let ok = secret::verify_password(
            password.to_owned(),
            account.as_ref().map(|a| a.password_hash.clone()),
        )
        .await;
        let account = match account {
            Some(account) if ok => account,
            _ => {
                if let Some((address, _, _)) = &started {
                    security::record(
                        &self.db,
                        security::Event {
                            event: "locked_out",
                            username: Some(username),
                            source: source.map(str::to_owned),
                            detail: Some(format!(
                                "the {}, after {max} failed sign-ins",
                                if *address { "address" } else { "account" }
                            )),
                            ..Default::default()
                        },
                    )
                    .await;
                }
                security::record(
                    &self.db,
                    security::Event {
                        event: "sign_in_failed",
                        username: Some(username),
                        source: source.map(str::to_owned),
                        ..Default::default()
                    },
                )
                .await;
                if started.is_some() {
                    self.changed().await;
                }
                return Err(match started {
                    Some((address, until, _)) => Refused::Locked { until, address },
                    None => Refused::Wrong,
                });
            }
        };
        // the right password: this attempt was no failure
        throttle::clear(&self.db, &user_key, now).await?;
        if let Some(key) = &address_key {
            throttle::forgive(&self.db, key, max).await?;
        }
        if account.disabled {
            security::record(
                &self.db,
                security::Event {
                    event: "sign_in_failed",
                    username: Some(&account.username),
                    source: source.map(str::to_owned),
                    detail: Some("the account is disabled".into()),
                    ..Default::default()
                },
            )
            .await;
            return Err(Refused::Disabled);
        }
        throttle::clear(&self.db, &user_key, now).await?;
        Ok(self
            .me(account.id, account.username, account.superuser)
            .await?)
    }

    /// Signs in: a new session for a checked account.
    pub async fn open_session(&self, me: Me, source: Option<&str>) -> Result<NewSession, DbError> {
        let secret = Secret::random();
        let csrf = Secret::random();
        sessions::create_session(&self.db, &secret.digest(), me.id, csrf.expose(), source).await?;
        store::signed_in(&self.db, me.id).await?;
        security::record(
            &self.db,
            security::Event {
                event: "sign_in",
                username: Some(&me.username),
                source: source.map(str::to_owned),
                ..Default::default()
            },
        )
        .await;
        Ok(NewSession { secret, csrf, me })
    }

    pub async fn close_session(
        &self,
        digest: &str,
        username: &str,
        source: Option<String>,
    ) -> Result<(), DbError> {
        sessions::delete_session(&self.db, digest).await?;
        if let Some(hash) = secret::unhex(digest) {
            self.cache.invalidate(&Key { token: false, hash });
        }
        self.changed().await;
        security::record(
            &self.db,
            security::Event {
                event: "sign_out",
                username: Some(username),
                source,
                ..Default::default()
            },
        )
        .await;
        Ok(())
    }

    async fn lookup(&self, key: Key) -> Lookup {
        let now = now();
        let token = key.token;
        let cached = match self.cache.get(&key) {
            Some(cached) => cached,
            None => {
                let digest = secret::hex(&key.hash);
                let generation = self.generation.load(std::sync::atomic::Ordering::SeqCst);
                let found = if token {
                    sessions::token(&self.db, &digest).await
                } else {
                    sessions::session(&self.db, &digest).await
                };
                let found = match found {
                    Ok(Some(found)) if !found.disabled => found,
                    Ok(_) => return Ok(None),
                    Err(e) => {
                        tracing::error!(error = %e, "could not read a session");
                        return Err(Unknown);
                    }
                };
                let me = match self.me(found.user, found.username, found.superuser).await {
                    Ok(me) => me,
                    Err(e) => {
                        tracing::error!(error = %e, "could not read an account's rights");
                        return Err(Unknown);
                    }
                };
                let via = match (found.csrf, found.token_id) {
                    (Some(csrf), _) => Via::Session {
                        digest: digest.clone(),
                        csrf,
                    },
                    (None, Some(id)) => Via::Token {
                        id,
                        digest: digest.clone(),
                    },
                    (None, None) => return Ok(None),
                };
                let cached = Arc::new(Cached {
                    signed_in: Arc::new(SignedIn { me, via }),
                    created_at: found.created_at,
                    last_seen: found.last_seen_at.into(),
                    last_written: found.last_seen_at.into(),
                    expires_at: found.expires_at,
                });
                if self.generation.load(std::sync::atomic::Ordering::SeqCst) == generation {
                    self.cache.insert(key, cached.clone());
                }
                cached
            }
        };
        if let Some(signed_in) = self.use_cached(&cached, now) {
            return Ok(Some(signed_in));
        }
        // expired: a token simply stops; a session is ended and recorded
        self.cache.invalidate(&key);
        if !token {
            let old = now - cached.created_at > self.policy.max;
            let digest = secret::hex(&key.hash);
            if let Ok(true) = sessions::delete_session(&self.db, &digest).await {
                security::record(
                    &self.db,
                    security::Event {
                        event: "session_expired",
                        username: Some(&cached.signed_in.me.username),
                        detail: Some(if old { "too old" } else { "unused too long" }.into()),
                        ..Default::default()
                    },
                )
                .await;
            }
        }
        Ok(None)
    }

    /// A cached sign-in if it is still valid at `now`, its use noted (and written now and then).
    fn use_cached(&self, cached: &Cached, now: i64) -> Option<Arc<SignedIn>> {
        use std::sync::atomic::Ordering::Relaxed;
        let expired = match cached.signed_in.via {
            Via::Token { .. } => cached.expires_at.is_some_and(|at| at <= now),
            Via::Session { .. } => {
                now - cached.last_seen.load(Relaxed) > self.policy.idle
                    || now - cached.created_at > self.policy.max
            }
        };
        if expired {
            return None;
        }
        cached.last_seen.store(now, Relaxed);
        if now - cached.last_written.load(Relaxed) >= TOUCH_EVERY {
            cached.last_written.store(now, Relaxed);
            let db = self.db.clone();
            let via = cached.signed_in.via.clone();
            tokio::spawn(async move {
                let written = match via {
                    Via::Session { digest, .. } => sessions::touch_session(&db, &digest, now).await,
                    Via::Token { id, .. } => sessions::touch_token(&db, id, now).await,
                };
                if let Err(e) = written {
                    tracing::warn!(error = %e, "could not record a session's use");
                }
            });
        }
        Some(cached.signed_in.clone())
    }
}

impl Authenticate for Accounts {
    fn cached(&self, token: bool, secret: &str) -> Option<Arc<SignedIn>> {
        let key = Key {
            token,
            hash: secret::hash(secret),
        };
        let cached = self.cache.get(&key)?;
        self.use_cached(&cached, now())
    }

    fn session(&self, secret: &str) -> crate::BoxFuture<'_, Lookup> {
        Box::pin(self.lookup(Key {
            token: false,
            hash: secret::hash(secret),
        }))
    }

    fn token(&self, token: &str) -> crate::BoxFuture<'_, Lookup> {
        Box::pin(self.lookup(Key {
            token: true,
            hash: secret::hash(token),
        }))
    }

    fn again(&self, via: &Via) -> crate::BoxFuture<'_, Lookup> {
        let (token, digest) = match via {
            Via::Session { digest, .. } => (false, digest),
            Via::Token { digest, .. } => (true, digest),
        };
        match secret::unhex(digest) {
            Some(hash) => Box::pin(self.lookup(Key { token, hash })),
            None => Box::pin(async { Ok(None) }),
        }
    }
}
