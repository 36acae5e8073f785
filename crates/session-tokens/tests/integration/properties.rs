//! Properties: issue/verify round-trips whatever the inputs; no single-character change to
//! a token verifies.

use std::net::IpAddr;

use proptest::prelude::*;
use session_tokens::{Aal, MemoryStore, SessionManager, SessionRequest, TenantId, UserId};

use crate::support::*;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime")
}

fn aal() -> impl Strategy<Value = Aal> {
    prop_oneof![Just(Aal::Aal1), Just(Aal::Aal2), Just(Aal::Aal3)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn issue_then_verify_round_trips(
        tenant_name in "[^\\p{Cc}]{1,40}",
        user_name in "[^\\p{Cc}]{1,40}",
        level in aal(),
        amr in proptest::collection::vec("[A-Za-z0-9_-]{1,32}", 0..8),
        ip in any::<IpAddr>(),
        user_agent in "\\PC{0,80}",
        label in proptest::option::of("[^\\p{Cc}]{0,40}"),
    ) {
        let clock = ManualClock::new();
        let manager = manager(MemoryStore::new(), &clock);
        let mut request = SessionRequest::new(
            TenantId::new(tenant_name.clone()).unwrap(),
            UserId::new(user_name.clone()).unwrap(),
        )
        .aal(level)
        .amr(amr.clone())
        .ip(ip)
        .user_agent(user_agent.clone());
        if let Some(label) = &label {
            request = request.label(label.clone());
        }
        let rt = runtime();
        let issued = rt.block_on(manager.issue(request)).unwrap();
        let session = rt.block_on(manager.verify(issued.token().expose())).unwrap();
        prop_assert_eq!(&session, issued.session());
        prop_assert_eq!(session.tenant().as_str(), tenant_name.as_str());
        prop_assert_eq!(session.user().as_str(), user_name.as_str());
        prop_assert_eq!(session.aal(), level);
        prop_assert_eq!(session.amr(), amr.as_slice());
        prop_assert_eq!(session.ip(), Some(ip));
        prop_assert_eq!(session.user_agent(), Some(user_agent.as_str()));
        prop_assert_eq!(session.label(), label.as_deref());
        let listed = rt.block_on(manager.list(&session)).unwrap();
        prop_assert_eq!(listed.len(), 1);
        prop_assert!(listed[0].is_current());
    }

    #[test]
    fn no_single_character_change_verifies(position in any::<prop::sample::Index>(), replacement in "[A-Za-z0-9_.-]") {
        let (manager, token) = fixture();
        let mut bytes = token.clone().into_bytes();
        let i = position.index(bytes.len());
        let replacement = replacement.as_bytes()[0];
        prop_assume!(bytes[i] != replacement);
        bytes[i] = replacement;
        let changed = String::from_utf8(bytes).unwrap();
        let result = runtime().block_on(manager.verify(&changed));
        prop_assert!(result.is_err(), "changing byte {} to {:?} verified", i, replacement as char);
    }
}

/// One manager and one token for the whole property run.
fn fixture() -> (SessionManager, String) {
    use std::sync::OnceLock;
    static FIXTURE: OnceLock<(SessionManager, String)> = OnceLock::new();
    FIXTURE
        .get_or_init(|| {
            let clock = ManualClock::new();
            let manager = manager(MemoryStore::new(), &clock);
            let issued = runtime()
                .block_on(manager.issue(request("acme", "alice").amr(["pwd"])))
                .expect("issue");
            let token = issued.token().expose().to_owned();
            runtime()
                .block_on(manager.verify(&token))
                .expect("the untouched token verifies");
            (manager, token)
        })
        .clone()
}
