//! The in-memory store: one mutex, every method one critical section.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};

use super::{CeremonyRecord, CredentialRecord, MfaStore, RecoverySet, StoreFuture, TotpRecord};
use crate::{StoreError, UserId};

#[derive(Default)]
struct State {
    totp: HashMap<UserId, TotpRecord>,
    /// Per user: the current set with every code and its `used` flag.
    recovery: HashMap<UserId, (RecoverySet, Vec<bool>)>,
    ceremonies: HashMap<String, CeremonyRecord>,
    credentials: Vec<CredentialRecord>,
    handles: HashMap<UserId, [u8; 16]>,
    /// Every handle in `handles`: none is given to two users.
    taken_handles: HashSet<[u8; 16]>,
}

/// MFA state in process memory: for tests and single-process deployments. Lost on restart.
#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MemoryStore")
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self, op: &'static str) -> Result<MutexGuard<'_, State>, StoreError> {
        self.state
            .lock()
            .map_err(|_| StoreError::new(op, "a previous holder of the lock panicked"))
    }
}

fn ready<T: Send + 'static>(value: Result<T, StoreError>) -> StoreFuture<'static, T> {
    Box::pin(std::future::ready(value))
}

impl MfaStore for MemoryStore {
    fn put_totp<'a>(&'a self, user: &'a UserId, record: &'a TotpRecord) -> StoreFuture<'a, bool> {
        ready(self.lock("put_totp").map(|mut s| {
            if s.totp.get(user).is_some_and(|r| r.confirmed) {
                return false;
            }
            s.totp.insert(user.clone(), record.clone());
            true
        }))
    }

    fn totp<'a>(&'a self, user: &'a UserId) -> StoreFuture<'a, Option<TotpRecord>> {
        ready(self.lock("totp").map(|s| s.totp.get(user).cloned()))
    }

    fn accept_totp_step<'a>(
        &'a self,
        user: &'a UserId,
        id: &'a str,
        step: u64,
    ) -> StoreFuture<'a, bool> {
        ready(
            self.lock("accept_totp_step")
                .map(|mut s| match s.totp.get_mut(user) {
                    Some(r) if r.id == id && r.last_step.is_none_or(|last| last < step) => {
                        r.last_step = Some(step);
                        r.confirmed = true;
                        true
                    }
                    _ => false,
                }),
        )
    }

    fn remove_totp<'a>(&'a self, user: &'a UserId) -> StoreFuture<'a, bool> {
        ready(
            self.lock("remove_totp")
                .map(|mut s| s.totp.remove(user).is_some()),
        )
    }

    fn replace_recovery<'a>(
        &'a self,
        user: &'a UserId,
        set: &'a RecoverySet,
    ) -> StoreFuture<'a, ()> {
        ready(self.lock("replace_recovery").map(|mut s| {
            s.recovery
                .insert(user.clone(), (set.clone(), vec![false; set.codes.len()]));
        }))
    }

    fn recovery<'a>(&'a self, user: &'a UserId) -> StoreFuture<'a, Option<RecoverySet>> {
        ready(self.lock("recovery").map(|s| {
            s.recovery.get(user).map(|(set, used)| {
                let mut set = set.clone();
                let mut flags = used.iter();
                set.codes.retain(|_| !flags.next().copied().unwrap_or(true));
                set
            })
        }))
    }

    fn consume_recovery<'a>(
        &'a self,
        user: &'a UserId,
        set_id: &'a str,
        index: u32,
        _now: u64,
    ) -> StoreFuture<'a, bool> {
        ready(self.lock("consume_recovery").map(|mut s| {
            let Some((set, used)) = s.recovery.get_mut(user) else {
                return false;
            };
            if set.set_id != set_id {
                return false;
            }
            match set.codes.iter().position(|c| c.index == index) {
                Some(pos) if !used[pos] => {
                    used[pos] = true;
                    true
                }
                _ => false,
            }
        }))
    }

    fn put_ceremony<'a>(&'a self, id: &'a str, record: &'a CeremonyRecord) -> StoreFuture<'a, ()> {
        ready(self.lock("put_ceremony").and_then(|mut s| {
            if s.ceremonies.contains_key(id) {
                return Err(StoreError::new("put_ceremony", "ceremony id exists"));
            }
            s.ceremonies.insert(id.to_owned(), record.clone());
            Ok(())
        }))
    }

    fn take_ceremony<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<CeremonyRecord>> {
        ready(
            self.lock("take_ceremony")
                .map(|mut s| s.ceremonies.remove(id)),
        )
    }

    fn purge_ceremonies(&self, now: u64) -> StoreFuture<'_, u64> {
        ready(self.lock("purge_ceremonies").map(|mut s| {
            let before = s.ceremonies.len();
            s.ceremonies.retain(|_, c| c.expires_at > now);
            u64::try_from(before - s.ceremonies.len()).unwrap_or(u64::MAX)
        }))
    }

    fn add_credential<'a>(&'a self, record: &'a CredentialRecord) -> StoreFuture<'a, ()> {
        ready(self.lock("add_credential").and_then(|mut s| {
            if s.credentials.iter().any(|c| c.id == record.id) {
                return Err(StoreError::new("add_credential", "credential id exists"));
            }
            s.credentials.push(record.clone());
            Ok(())
        }))
    }

    fn credentials<'a>(&'a self, user: &'a UserId) -> StoreFuture<'a, Vec<CredentialRecord>> {
        ready(self.lock("credentials").map(|s| {
            let mut list: Vec<_> = s
                .credentials
                .iter()
                .filter(|c| &c.user == user)
                .cloned()
                .collect();
            list.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
            list
        }))
    }

    fn update_credential<'a>(
        &'a self,
        user: &'a UserId,
        id: &'a str,
        data: &'a str,
        counter: u32,
        now: u64,
    ) -> StoreFuture<'a, bool> {
        ready(self.lock("update_credential").map(|mut s| {
            match s
                .credentials
                .iter_mut()
                .find(|c| &c.user == user && c.id == id)
            {
                Some(c) if c.counter < counter || (c.counter == 0 && counter == 0) => {
                    c.data = data.to_owned();
                    c.counter = counter;
                    c.last_used_at = Some(now);
                    true
                }
                _ => false,
            }
        }))
    }

    fn rename_credential<'a>(
        &'a self,
        user: &'a UserId,
        id: &'a str,
        name: &'a str,
    ) -> StoreFuture<'a, bool> {
        ready(self.lock("rename_credential").map(|mut s| {
            match s
                .credentials
                .iter_mut()
                .find(|c| &c.user == user && c.id == id)
            {
                Some(c) => {
                    c.name = name.to_owned();
                    true
                }
                None => false,
            }
        }))
    }

    fn remove_credential<'a>(&'a self, user: &'a UserId, id: &'a str) -> StoreFuture<'a, bool> {
        ready(self.lock("remove_credential").map(|mut s| {
            let before = s.credentials.len();
            s.credentials.retain(|c| !(&c.user == user && c.id == id));
            s.credentials.len() != before
        }))
    }

    fn user_handle<'a>(
        &'a self,
        user: &'a UserId,
        candidate: &'a [u8; 16],
    ) -> StoreFuture<'a, [u8; 16]> {
        ready(self.lock("user_handle").and_then(|mut s| {
            if let Some(handle) = s.handles.get(user) {
                return Ok(*handle);
            }
            if !s.taken_handles.insert(*candidate) {
                return Err(StoreError::new(
                    "user_handle",
                    "the user handle belongs to another user",
                ));
            }
            s.handles.insert(user.clone(), *candidate);
            Ok(*candidate)
        }))
    }
}
