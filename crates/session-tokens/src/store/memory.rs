//! The in-memory store: one process, no persistence.

use std::collections::HashMap;
use std::fmt;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::{Lookup, SessionRecord, SessionStore, StoreFuture};
use crate::{SessionHandle, StoreError, TenantId, UserId};

/// Sessions kept in this process's memory, for tests and single-instance services.
///
/// Revocation is immediate within the process and lost on restart (every session dies
/// with it). Memory grows with the number of sessions: call
/// [`SessionManager::purge`](crate::SessionManager::purge) now and then.
#[derive(Default)]
pub struct MemoryStore {
    state: RwLock<State>,
}

#[derive(Default)]
struct State {
    sessions: HashMap<SessionHandle, SessionRecord>,
    users: HashMap<TenantId, HashMap<UserId, UserState>>,
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
    ) -> StoreFuture<'a, Vec<SessionRecord>> {
        Box::pin(async move {
            let state = self.read("list")?;
            let Some(user_state) = state.user(tenant.as_str(), user.as_str()) else {
                return Ok(Vec::new());
            };
            let mut live: Vec<SessionRecord> = user_state
                .handles
                .iter()
                .filter_map(|handle| state.sessions.get(handle))
                .filter(|r| {
                    r.revoked_at.is_none()
                        && r.expires_at > now
                        && r.generation == user_state.generation
                })
                .cloned()
                .collect();
            live.sort_by(|a, b| {
                b.created_at
                    .cmp(&a.created_at)
                    .then_with(|| a.handle.cmp(&b.handle))
            });
            Ok(live)
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
            let mut state = self.write("purge")?;
            let dead: Vec<SessionHandle> = state
                .sessions
                .values()
                .filter(|r| r.expires_at <= before || r.revoked_at.is_some_and(|t| t <= before))
                .map(|r| r.handle)
                .collect();
            for handle in &dead {
                if let Some(record) = state.sessions.remove(handle)
                    && let Some(user_state) = state
                        .users
                        .get_mut(&record.tenant)
                        .and_then(|users| users.get_mut(&record.user))
                {
                    user_state.handles.retain(|h| h != handle);
                }
            }
            // A user with no sessions left and generation 0 is indistinguishable from one
            // never seen; drop the entry so memory follows the live sessions.
            for users in state.users.values_mut() {
                users.retain(|_, u| u.generation > 0 || !u.handles.is_empty());
            }
            state.users.retain(|_, users| !users.is_empty());
            u64::try_from(dead.len()).map_err(|_| StoreError::msg("purge"))
        })
    }
}
