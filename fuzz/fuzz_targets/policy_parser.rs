//! Fuzz the policy parser, the canonical form and the case parser/evaluator.
//!
//! Input: arbitrary bytes. Anything that is not UTF-8 is ignored. Otherwise:
//!
//! 1. If the text is JSON, it is parsed as a policy of every [`PolicyKind`]. For each kind it
//!    parses as, the canonical form must be a fixed point (`canonical(canonical(v)) ==
//!    canonical(v)`) and must parse as the same kind, with the same statements (count, effects,
//!    Sids, principals, action and resource blocks, condition count).
//! 2. The text is parsed as a simulation case; when it parses it is evaluated with reasons and
//!    without, and both must agree on everything but the per-statement reasons.
//!
//! Any panic — in s3fix or in the checks here — is a finding.

#![no_main]

use libfuzzer_sys::fuzz_target;
use s3fix::core::case::{PolicyCache, evaluate_case, parse_case};
use s3fix::core::policy::canonical::canonical;
use s3fix::core::policy::{Policy, PolicyKind, parse_policy};
use serde_json::Value;

const KINDS: [PolicyKind; 7] = [
    PolicyKind::Identity,
    PolicyKind::Boundary,
    PolicyKind::Session,
    PolicyKind::Scp,
    PolicyKind::Rcp,
    PolicyKind::Resource,
    PolicyKind::KeyPolicy,
];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(document) = serde_json::from_str::<Value>(text) {
        check_policy(&document);
    }
    check_case(text);
});

fn check_policy(document: &Value) {
    let mut canonical_form: Option<Value> = None;
    for kind in KINDS {
        let Ok(policy) = parse_policy(document, kind) else {
            continue;
        };
        let once = canonical_form.get_or_insert_with(|| {
            let once = canonical(document);
            let twice = canonical(&once);
            assert_eq!(
                once, twice,
                "canonical form is not a fixed point\ninput: {document}\nonce:  {once}\ntwice: {twice}"
            );
            once
        });
        match parse_policy(once, kind) {
            Ok(again) => same_statements(&policy, &again, kind, document, once),
            Err(error) => panic!(
                "policy parses as {kind:?} but its canonical form does not: {error}\ninput:     {document}\ncanonical: {once}"
            ),
        }
    }
}

/// The canonical form keeps statement order, Sids and effects, and only reorders or
/// normalises the sets inside a statement: the compiled statements must agree on those.
fn same_statements(original: &Policy, canonical: &Policy, kind: PolicyKind, input: &Value, form: &Value) {
    let context = || format!("kind {kind:?}\ninput:     {input}\ncanonical: {form}");
    assert_eq!(
        original.statements.len(),
        canonical.statements.len(),
        "statement count changed in the canonical form, {}",
        context()
    );
    assert_eq!(original.version, canonical.version, "version changed, {}", context());
    assert_eq!(original.id, canonical.id, "Id changed, {}", context());
    for (before, after) in original.statements.iter().zip(&canonical.statements) {
        assert_eq!(before.index, after.index, "statement index changed, {}", context());
        assert_eq!(before.sid, after.sid, "Sid changed, {}", context());
        assert_eq!(before.effect, after.effect, "Effect changed, {}", context());
        assert_eq!(
            before.principal.is_some(),
            after.principal.is_some(),
            "principal presence changed, {}",
            context()
        );
        if let (Some(b), Some(a)) = (&before.principal, &after.principal) {
            assert_eq!(b.negated, a.negated, "NotPrincipal changed, {}", context());
            assert_eq!(b.any, a.any, "principal `*` changed, {}", context());
        }
        assert_eq!(
            before.actions.negated, after.actions.negated,
            "NotAction changed, {}",
            context()
        );
        assert_eq!(
            before.resources.as_ref().map(|block| block.negated),
            after.resources.as_ref().map(|block| block.negated),
            "Resource/NotResource changed, {}",
            context()
        );
        assert_eq!(
            before.conditions.len(),
            after.conditions.len(),
            "condition count changed, {}",
            context()
        );
    }
}

fn check_case(text: &str) {
    let Ok(case) = parse_case(text) else {
        return;
    };
    let with_reasons = evaluate_case(&case, true, &mut PolicyCache::new());
    let without = evaluate_case(&case, false, &mut PolicyCache::new());
    match (with_reasons, without) {
        (Ok(mut full), Ok(fast)) => {
            full.reasons = None;
            assert_eq!(
                full, fast,
                "evaluate_case with and without reasons disagree\ncase: {text}"
            );
        }
        (Err(a), Err(b)) => assert_eq!(a, b, "evaluate_case errors differ\ncase: {text}"),
        (a, b) => panic!(
            "evaluate_case succeeds only one way\nwith reasons: {a:?}\nwithout: {b:?}\ncase: {text}"
        ),
    }
}
