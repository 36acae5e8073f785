//! Envelope encryption proper: a random data key per tenant, wrapped by a key-encryption
//! key, kept in a store.

#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sql;
mod store;

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use data_encoding::BASE64URL_NOPAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

#[cfg(feature = "postgres")]
pub use self::sql::PostgresStore;
#[cfg(feature = "sqlite")]
pub use self::sql::SqliteStore;
pub use self::store::{MemoryStore, WrappedKey, WrappedKeyStore};

use crate::binding::{Binding, Purpose};
use crate::error::{Error, Result};
use crate::keyring::Keyring;
use crate::rand::{Clock, OsRandom, Random, SystemClock, ThreadRandom};
use crate::sealer::Sealer;
use crate::secret::SecretKey;
use crate::xaes::Backend;

/// The purpose under which key-encryption keys seal data keys.
const DATA_KEY_PURPOSE: &str = "palisade.tenant-data-key";

/// A key-encryption key (KEK): wraps and unwraps tenants' data keys.
///
/// Implementations here: [`LocalKek`] (the service's own keyring) and [`CustomerKey`]
/// (BYOK: a tenant's own 256-bit key). A cloud KMS fits the same trait: `wrap` and
/// `unwrap` are async for that reason.
pub trait KeyEncryptionKey: Send + Sync {
    /// A stable, non-secret name for this KEK, stored beside each wrapped key so a data
    /// key is never handed to the wrong KEK.
    fn id(&self) -> String;

    /// Wraps `data_key` for `tenant`. The result is stored as it is.
    fn wrap(
        &self,
        tenant: &str,
        data_key: &SecretKey,
    ) -> impl Future<Output = Result<Vec<u8>>> + Send;

    /// Unwraps a data key that [`KeyEncryptionKey::wrap`] made for `tenant`.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when `wrapped` was not made by this KEK for this tenant.
    fn unwrap(
        &self,
        tenant: &str,
        wrapped: &[u8],
    ) -> impl Future<Output = Result<SecretKey>> + Send;
}

/// A data key sealed for `palisade.tenant-data-key`, bound to its tenant.
fn seal_data_key(sealer: &Sealer, tenant: &str, data_key: &SecretKey) -> Result<Vec<u8>> {
    let binding = Binding::new().tenant(tenant);
    Ok(sealer.seal(data_key.expose(), &binding)?.into_bytes())
}

fn open_data_key(sealer: &Sealer, tenant: &str, wrapped: &[u8]) -> Result<SecretKey> {
    let binding = Binding::new().tenant(tenant);
    let key = sealer.open(wrapped, &binding)?;
    SecretKey::from_slice(key.as_bytes()).map_err(|_| Error::Invalid)
}

/// The service's own keyring as key-encryption key: a data key is sealed as an envelope
/// for the purpose `palisade.tenant-data-key`, bound to its tenant. Rotating the keyring
/// and calling [`TenantKeys::rewrap`] moves wrapped keys to the new primary.
#[derive(Debug)]
pub struct LocalKek {
    sealer: Sealer,
}

impl LocalKek {
    /// A KEK from a keyring.
    ///
    /// # Errors
    ///
    /// None in practice; the purpose name is fixed and valid.
    pub fn new(keyring: &Keyring) -> Result<Self> {
        Ok(Self {
            sealer: keyring.sealer(DATA_KEY_PURPOSE)?,
        })
    }
}

impl KeyEncryptionKey for LocalKek {
    fn id(&self) -> String {
        "local".into()
    }

    async fn wrap(&self, tenant: &str, data_key: &SecretKey) -> Result<Vec<u8>> {
        seal_data_key(&self.sealer, tenant, data_key)
    }

    async fn unwrap(&self, tenant: &str, wrapped: &[u8]) -> Result<SecretKey> {
        open_data_key(&self.sealer, tenant, wrapped)
    }
}

/// A customer-managed key (BYOK): one tenant's own 256-bit key wraps that tenant's data
/// key. When the customer withdraws the key, the service can no longer open the
/// tenant's data.
///
/// The KEK id is `byok:` and a fingerprint of the key (an HMAC of it, which reveals
/// nothing about it), so the customer and the service can check which key is in use.
pub struct CustomerKey {
    tenant: String,
    fingerprint: String,
    sealer: Sealer,
}

impl fmt::Debug for CustomerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CustomerKey")
            .field("tenant", &self.tenant)
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

impl CustomerKey {
    /// `tenant`'s own key.
    pub fn new(tenant: impl Into<String>, key: SecretKey) -> Self {
        let tenant = tenant.into();
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key.expose())
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(b"palisade/kek-fingerprint/v1");
        let fingerprint = BASE64URL_NOPAD.encode(&mac.finalize().into_bytes()[..9]);
        let sealer = Keyring::single(&key)
            .sealer(DATA_KEY_PURPOSE)
            .unwrap_or_else(|_| unreachable!("the data key purpose is valid"))
            .for_tenant(tenant.clone());
        Self {
            tenant,
            fingerprint,
            sealer,
        }
    }

    /// The tenant the key belongs to.
    pub fn tenant(&self) -> &str {
        &self.tenant
    }
}

impl KeyEncryptionKey for CustomerKey {
    fn id(&self) -> String {
        format!("byok:{}", self.fingerprint)
    }

    async fn wrap(&self, tenant: &str, data_key: &SecretKey) -> Result<Vec<u8>> {
        seal_data_key(&self.sealer, tenant, data_key)
    }

    async fn unwrap(&self, tenant: &str, wrapped: &[u8]) -> Result<SecretKey> {
        open_data_key(&self.sealer, tenant, wrapped)
    }
}

/// Tenants' data keys: create, use, rewrap and shred.
///
/// Each tenant gets a random 256-bit data key, stored only wrapped by the KEK.
/// [`TenantKeys::sealer`] unwraps it and derives a [`Sealer`] for one purpose whose
/// envelopes are bound to the tenant. [`TenantKeys::shred`] deletes the wrapped key:
/// every envelope sealed under it becomes unopenable (crypto-shredding), and other
/// tenants are untouched.
///
/// ```
/// use envelope_crypto::{Binding, Keyring, LocalKek, MemoryStore, TenantKeys};
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let keyring = Keyring::generate()?;
/// let tenants = TenantKeys::new(MemoryStore::new(), LocalKek::new(&keyring)?);
/// tenants.create("acme").await?;
/// let sealer = tenants.sealer("acme", "crm.api-key").await?;
/// let envelope = sealer.seal(b"sk_live_...", &Binding::new().record("integration:7"))?;
///
/// tenants.shred("acme").await?;
/// assert!(tenants.sealer("acme", "crm.api-key").await.is_err());
/// # Ok::<(), envelope_crypto::Error>(())
/// # }).unwrap();
/// ```
pub struct TenantKeys<S, K> {
    store: S,
    kek: K,
    /// Data keys.
    random: Arc<dyn Random>,
    /// Nonces of the sealers it makes.
    nonces: Arc<dyn Random>,
    clock: Arc<dyn Clock>,
    backend: Backend,
}

impl<S, K: KeyEncryptionKey> fmt::Debug for TenantKeys<S, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TenantKeys")
            .field("kek", &self.kek.id())
            .finish_non_exhaustive()
    }
}

impl<S: WrappedKeyStore, K: KeyEncryptionKey> TenantKeys<S, K> {
    /// Data keys in `store`, wrapped by `kek`.
    pub fn new(store: S, kek: K) -> Self {
        Self {
            store,
            kek,
            random: Arc::new(OsRandom),
            nonces: Arc::new(ThreadRandom),
            clock: Arc::new(SystemClock),
            backend: Backend::default(),
        }
    }

    /// Uses the given random source (for data keys and nonces) and clock. By default
    /// data keys come from [`OsRandom`] and nonces from [`ThreadRandom`].
    #[must_use]
    pub fn with_random_and_clock(mut self, random: Arc<dyn Random>, clock: Arc<dyn Clock>) -> Self {
        self.nonces = Arc::clone(&random);
        self.random = random;
        self.clock = clock;
        self
    }

    /// Uses the given backend in the sealers it makes.
    #[must_use]
    pub fn with_backend(mut self, backend: Backend) -> Self {
        self.backend = backend;
        self
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Gives `tenant` a fresh random data key, unless it has one. Returns whether a key
    /// was created.
    ///
    /// # Errors
    ///
    /// [`Error::Random`], a KEK error, or [`Error::Store`].
    pub async fn create(&self, tenant: &str) -> Result<bool> {
        if self.store.get(tenant).await?.is_some() {
            return Ok(false);
        }
        let data_key = SecretKey::generate(self.random.as_ref())?;
        let wrapped = WrappedKey {
            tenant: tenant.to_owned(),
            kek: self.kek.id(),
            wrapped: self.kek.wrap(tenant, &data_key).await?,
            created: self.clock.now(),
        };
        let created = self.store.insert(&wrapped).await?;
        if created {
            tracing::info!(tenant, kek = %wrapped.kek, "tenant data key created");
        }
        Ok(created)
    }

    /// A sealer for `tenant`'s data key and `purpose`. Its envelopes are bound to the
    /// tenant: a binding that names no tenant gets this one, a binding that names
    /// another is refused.
    ///
    /// Each call reads the store and unwraps the key; keep the sealer while it is
    /// needed, and no longer than a shred may take to reach this instance: a sealer
    /// holds the tenant's keys in memory and goes on sealing and opening after
    /// [`TenantKeys::shred`] (here or on another instance) deleted the stored key. Take
    /// one per request or job, or cache it with a short expiry that every instance
    /// shares, and drop it when the tenant is shredded.
    ///
    /// # Errors
    ///
    /// [`Error::NoDataKey`] when the tenant has none (never created, or shredded);
    /// [`Error::WrongKek`] when its key is wrapped by another KEK; [`Error::Invalid`]
    /// when the KEK cannot unwrap it; [`Error::Binding`] for an invalid purpose;
    /// [`Error::Store`].
    pub async fn sealer(&self, tenant: &str, purpose: impl AsRef<str>) -> Result<Sealer> {
        let purpose = Purpose::new(purpose.as_ref())?;
        let data_key = self.unwrap(tenant).await?;
        Ok(Keyring::single(&data_key)
            .sealer(purpose)?
            .for_tenant(tenant.to_owned())
            .with_backend(self.backend)
            .with_random(Arc::clone(&self.nonces)))
    }

    /// Wraps `tenant`'s data key again (under the KEK's current primary, after a
    /// keyring rotation). The data key, and so every envelope, stays the same.
    ///
    /// The new wrapping is stored only if the stored one is still the one unwrapped here
    /// (a shredded key is never put back). If another write came first (a rewrap
    /// elsewhere, a shred and a fresh `create`), the key now stored is rewrapped in turn,
    /// a few times at most, so that on success it is wrapped under this KEK's primary.
    ///
    /// # Errors
    ///
    /// As for [`TenantKeys::sealer`]; [`Error::NoDataKey`] also when the key was shredded
    /// while this ran; [`Error::Store`] when other writes kept coming first.
    pub async fn rewrap(&self, tenant: &str) -> Result<()> {
        const ATTEMPTS: usize = 4;
        for _ in 0..ATTEMPTS {
            let stored = self.stored(tenant).await?;
            let data_key = self.kek.unwrap(tenant, &stored.wrapped).await?;
            let wrapped = WrappedKey {
                tenant: stored.tenant.clone(),
                kek: stored.kek.clone(),
                wrapped: self.kek.wrap(tenant, &data_key).await?,
                created: stored.created,
            };
            if self.store.replace(&stored.wrapped, &wrapped).await? {
                return Ok(());
            }
        }
        Err(Error::store(format!(
            "tenant {tenant:?}: the wrapped data key changed during each of {ATTEMPTS} rewraps"
        )))
    }

    /// Deletes `tenant`'s wrapped data key: every envelope sealed under it becomes
    /// unopenable, for good, once no sealer taken before the shred is still held (see
    /// [`TenantKeys::sealer`]). Returns whether there was a key.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    pub async fn shred(&self, tenant: &str) -> Result<bool> {
        let deleted = self.store.delete(tenant).await?;
        tracing::warn!(tenant, deleted, "tenant data key shredded");
        Ok(deleted)
    }

    async fn stored(&self, tenant: &str) -> Result<WrappedKey> {
        let stored = self
            .store
            .get(tenant)
            .await?
            .ok_or_else(|| Error::NoDataKey(tenant.to_owned()))?;
        let expected = self.kek.id();
        if stored.kek != expected {
            return Err(Error::WrongKek {
                tenant: tenant.to_owned(),
                found: stored.kek,
                expected,
            });
        }
        Ok(stored)
    }

    async fn unwrap(&self, tenant: &str) -> Result<SecretKey> {
        let stored = self.stored(tenant).await?;
        self.kek.unwrap(tenant, &stored.wrapped).await
    }
}
