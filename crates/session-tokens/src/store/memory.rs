//! The in-memory store: one process, no persistence.

use std::collections::HashMap;
use std::fmt;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::{Lookup, SessionRecord, SessionStore, StoreFuture};
use crate::{SessionHandle, StoreError, TenantId, UserId};

/// Fewest inserts between two automatic purges.
const PURGE_EVERY: usize = 1024;

/// Sessions kept in this process's memory, for tests and single-instance services.
///
/// Revocation is immediate within the process and lost on restart (every session dies
/// with it). Memory follows the live sessions: every so many inserts (1024, or half the
/// records held, whichever is more, so the cost per insert stays constant) the store
/// deletes the records that expired or were revoked before the new record's issue time,
/// as [`SessionManager::purge`](crate::SessionManager::purge) does. To bound the live
/// sessions of one user too, set
/// [`max_sessions_per_user`](crate::SessionManagerBuilder::max_sessions_per_user).
#[derive(Default)]
pub struct MemoryStore {
    state: RwLock<State>,
}

#[derive(Default)]
struct State {
    sessions: HashMap<SessionHandle, SessionRecord>,
    users: HashMap<TenantId, HashMap<UserId, UserState>>,
    inserts_since_purge: usize,
}

#[derive(Default)]
struct UserState {
    generation: u64,
    handles: Vec<SessionHandle>,
}

impl State {
    fn user(&self, tenant: &str, user: &str) -> Option<&UserState> {
        self.users.get(tenant)?.get(user)
    }

    fn user_mut(&mut self, tenant: &TenantId, user: &UserId) -> &mut UserState {
        self.users
            .entry(tenant.clone())
            .or_default()
            .entry(user.clone())
            .or_default()
    }

    fn generation(&self, tenant: &str, user: &str) -> u64 {
        self.user(tenant, user).map_or(0, |u| u.generation)
    }

    fn revoke_all(
        &mut self,
        tenant: &TenantId,
        user: &UserId,
        keep: Option<&SessionHandle>,
        now: u64,
    ) -> u64 {
        let Some(state) = self.users.get(tenant).and_then(|users| users.get(user)) else {
            return 0;
        };
        let mut revoked = 0;
        for handle in &state.handles {
            if Some(handle) == keep {
                continue;
            }
            if let Some(record) = self.sessions.get_mut(handle)
                && record.revoked_at.is_none()
            {
                record.revoked_at = Some(now);
                revoked += 1;
            }
        }
        revoked
    }
}

impl State {
    /// The user's unrevoked, unexpired records, newest first.
    fn live(&self, tenant: &str, user: &str, now: u64) -> Vec<&SessionRecord> {
        let Some(user_state) = self.user(tenant, user) else {
            return Vec::new();
        };
        let mut live: Vec<&SessionRecord> = user_state
            .handles
            .iter()
            .filter_map(|handle| self.sessions.get(handle))
            .filter(|r| r.revoked_at.is_none() && r.expires_at > now)
            .collect();
        live.sort_by(|a, b| {
            b.created_at
                .cmp(&a.created_at)
                .then_with(|| a.handle.cmp(&b.handle))
        });
        live
    }

    /// Deletes the records that expired or were revoked at or before `before`.
    fn purge(&mut self, before: u64) -> usize {
        let dead: Vec<SessionHandle> = self
            .sessions
            .values()
            .filter(|r| r.expires_at <= before || r.revoked_at.is_some_and(|t| t <= before))
            .map(|r| r.handle)
            .collect();
        for handle in &dead {
            if let Some(record) = self.sessions.remove(handle)
                && let Some(user_state) = self
                    .users
                    .get_mut(&record.tenant)
                    .and_then(|users| users.get_mut(&record.user))
            {
                user_state.handles.retain(|h| h != handle);
            }
        }
        // A user with no sessions left and generation 0 is indistinguishable from one
        // never seen; drop the entry so memory follows the live sessions.
        for users in self.users.values_mut() {
            users.retain(|_, u| u.generation > 0 || !u.handles.is_empty());
        }
        self.users.retain(|_, users| !users.is_empty());
        self.inserts_since_purge = 0;
        dead.len()
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn read(&self, operation: &'static str) -> Result<RwLockReadGuard<'_, State>, StoreError> {
        self.state.read().map_err(|_| StoreError::msg(operation))
    }

    fn write(&self, operation: &'static str) -> Result<RwLockWriteGuard<'_, State>, StoreError> {
        self.state.write().map_err(|_| StoreError::msg(operation))
    }

    /// Applies `change` to the record `handle`, if there is one; returns what it returns.
    fn update(
        &self,
        operation: &'static str,
        handle: &SessionHandle,
        change: impl FnOnce(&mut SessionRecord) -> bool,
    ) -> Result<bool, StoreError> {
        Ok(self
            .write(operation)?
            .sessions
            .get_mut(handle)
            .is_some_and(change))
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sessions = self.state.read().map(|s| s.sessions.len()).ok();
        f.debug_struct("MemoryStore")
            .field("sessions", &sessions)
            .finish()
    }
}

impl SessionStore for MemoryStore {
    fn insert<'a>(&'a self, record: &'a SessionRecord) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut state = self.write("insert")?;
            if state.sessions.contains_key(&record.handle) {
                return Err(StoreError::msg("insert"));
            }
            state.inserts_since_purge += 1;
            if state.inserts_since_purge >= PURGE_EVERY.max(state.sessions.len() / 2) {
                // A new record's last_seen_at is its issue time: the newest "now" seen.
                let purged = state.purge(record.last_seen_at);
                tracing::debug!(purged, "memory session store purged");
            }
            state
                .user_mut(&record.tenant, &record.user)
                .handles
                .push(record.handle);
            state.sessions.insert(record.handle, record.clone());
            Ok(())
        })
    }

    fn lookup<'a>(&'a self, handle: &'a SessionHandle) -> StoreFuture<'a, Option<Lookup>> {
        Box::pin(async move {
            let state = self.read("lookup")?;
            Ok(state.sessions.get(handle).map(|record| Lookup {
                current_generation: state.generation(record.tenant.as_str(), record.user.as_str()),
                record: record.clone(),
            }))
        })
    }

    fn touch<'a>(
        &'a self,
        handle: &'a SessionHandle,
        now: u64,
        min_interval: u64,
    ) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            self.update("touch", handle, |record| {
                let due = record.revoked_at.is_none()
                    && record.last_seen_at <= now.saturating_sub(min_interval);
                if due {
                    record.last_seen_at = now;
                }
                due
            })
        })
    }

    fn list<'a>(
        &'a self,
        tenant: &'a TenantId,
        user: &'a UserId,
        now: u64,
        limit: usize,
    ) -> StoreFuture<'a, Vec<SessionRecord>> {
        Box::pin(async move {
            let state = self.read("list")?;
            let generation = state.generation(tenant.as_str(), user.as_str());
            Ok(state
                .live(tenant.as_str(), user.as_str(), now)
                .into_iter()
                .filter(|r| r.generation == generation)
                .take(limit)
                .cloned()
                .collect())
        })
    }

    fn generation<'a>(&'a self, tenant: &'a TenantId, user: &'a UserId) -> StoreFuture<'a, u64> {
        Box::pin(async move {
            Ok(self
                .read("generation")?
                .generation(tenant.as_str(), user.as_str()))
        })
    }

    fn revoke<'a>(
        &'a self,
        tenant: &'a TenantId,
        user: &'a UserId,
        handle: &'a SessionHandle,
        now: u64,
    ) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            self.update("revoke", handle, |record| {
                let owned = record.tenant == *tenant && record.user == *user;
                let live = owned && record.revoked_at.is_none();
                if live {
                    record.revoked_at = Some(now);
                }
                live
            })
        })
    }

    fn revoke_all<'a>(
        &'a self,
        tenant: &'a TenantId,
        user: &'a UserId,
        keep: Option<&'a SessionHandle>,
        now: u64,
    ) -> StoreFuture<'a, u64> {
        Box::pin(async move {
            Ok(self
                .write("revoke_all")?
                .revoke_all(tenant, user, keep, now))
        })
    }

    fn revoke_oldest<'a>(
        &'a self,
        tenant: &'a TenantId,
        user: &'a UserId,
        keep: &'a SessionHandle,
        others: usize,
        now: u64,
    ) -> StoreFuture<'a, u64> {
        Box::pin(async move {
            let mut state = self.write("revoke_oldest")?;
            let kept: Vec<SessionHandle> = state
                .live(tenant.as_str(), user.as_str(), now)
                .into_iter()
                .filter(|r| r.handle != *keep)
                .take(others)
                .map(|r| r.handle)
                .chain(std::iter::once(*keep))
                .collect();
            let handles = state
                .user(tenant.as_str(), user.as_str())
                .map(|u| u.handles.clone())
                .unwrap_or_default();
            let mut revoked = 0;
            for handle in handles.iter().filter(|h| !kept.contains(h)) {
                if let Some(record) = state.sessions.get_mut(handle)
                    && record.revoked_at.is_none()
                {
                    record.revoked_at = Some(now);
                    revoked += 1;
                }
            }
            Ok(revoked)
        })
    }

    fn bump_generation<'a>(
        &'a self,
        tenant: &'a TenantId,
        user: &'a UserId,
        now: u64,
    ) -> StoreFuture<'a, u64> {
        Box::pin(async move {
            let mut state = self.write("bump_generation")?;
            let user_state = state.user_mut(tenant, user);
            user_state.generation = user_state
                .generation
                .checked_add(1)
                .ok_or(StoreError::msg("bump_generation"))?;
            let generation = user_state.generation;
            state.revoke_all(tenant, user, None, now);
            Ok(generation)
        })
    }

    fn purge(&self, before: u64) -> StoreFuture<'_, u64> {
        Box::pin(async move {
            let purged = self.write("purge")?.purge(before);
            u64::try_from(purged).map_err(|_| StoreError::msg("purge"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Aal;

    fn record(n: u32, user: &str, created_at: u64, expires_at: u64) -> SessionRecord {
        let mut bytes = [0u8; 32];
        bytes[..4].copy_from_slice(&n.to_be_bytes());
        SessionRecord {
            handle: SessionHandle::from_bytes(bytes),
            tenant: TenantId::new("t").unwrap(),
            user: UserId::new(user).unwrap(),
            generation: 0,
            created_at,
            expires_at,
            last_seen_at: created_at,
            authenticated_at: created_at,
            aal: Aal::Aal1,
            amr: Vec::new(),
            ip: None,
            user_agent: None,
            label: None,
            revoked_at: None,
        }
    }

    fn held(store: &MemoryStore) -> (usize, usize) {
        let state = store.state.read().unwrap();
        let users = state.users.values().map(HashMap::len).sum();
        (state.sessions.len(), users)
    }

    #[tokio::test]
    async fn memory_follows_the_live_sessions_without_a_manual_purge() {
        let store = MemoryStore::new();
        // Many short sessions of many users, all expired by time 100.
        for n in 0..3000 {
            store
                .insert(&record(n, &format!("u{n}"), 1, 50))
                .await
                .unwrap();
        }
        assert_eq!(held(&store), (3000, 3000), "nothing had ended yet");
        // Later inserts drop whatever ended before their issue time, users included,
        // once half as many inserts as records held have gone by.
        for n in 3000..6000 {
            store.insert(&record(n, "live", 100, 1000)).await.unwrap();
        }
        assert_eq!(held(&store), (3000, 1));
        // Live records are never purged.
        for n in 3000..6000 {
            let handle = record(n, "live", 100, 1000).handle;
            assert!(store.lookup(&handle).await.unwrap().is_some());
        }
    }
}
