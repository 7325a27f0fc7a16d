//! Every supported algorithm verifies its own tokens and nothing else's.

mod common;

use common::*;
use jwt_tower::algorithm::SUPPORTED;
use jwt_tower::{RegisteredClaims, RejectionKind, Verifier};

#[test]
fn each_algorithm_round_trips() {
    for alg in SUPPORTED {
        let verifier = Verifier::<RegisteredClaims>::builder(verification_key(alg))
            .algorithms([alg])
            .build()
            .unwrap();
        let token = mint(alg, None, &claims());
        let verified = verifier
            .verify(&token)
            .unwrap_or_else(|e| panic!("{alg:?}: {e}"));
        assert_eq!(verified.claims().sub.as_deref(), Some("alice"));
        assert_eq!(verified.header().unwrap().alg, alg);

        // Flip one bit of the signature's first byte: rejected.
        let (head, sig) = token.rsplit_once('.').unwrap();
        let mut sig = sig.as_bytes().to_vec();
        sig[0] = if sig[0] == b'A' { b'B' } else { b'A' };
        let forged = format!("{head}.{}", String::from_utf8(sig).unwrap());
        let err = verifier.verify(&forged).unwrap_err();
        assert_eq!(err.kind(), RejectionKind::InvalidSignature, "{alg:?}");
    }
}
