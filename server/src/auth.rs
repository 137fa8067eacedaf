//! Credentials: signed visitor tokens, operator passwords and operator session tokens.
//!
//! A visitor token is `base64url(payload) "." base64url(HMAC-SHA256(secret, payload))` where the
//! payload is `v1|site|visitor|expires_at`. It needs no database row to verify, so any deployment
//! sharing the secret accepts it. Operator session tokens are signed the same way (payload
//! `s1|operator|expires_at_ms|hlc|random`), so the other deployment accepts a session before its
//! record has replicated there; only their SHA-256 is stored, so a copy of the database does not
//! let anyone log in. The two payloads start differently, so neither kind passes for the other.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use protocol::{SiteId, VisitorId};
use rand::RngCore;
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// Why a credential was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// The token is not in the expected format or its signature does not match.
    #[error("the token is invalid")]
    Invalid,
    /// The token was valid once but has expired.
    #[error("the token has expired")]
    Expired,
}

/// What a valid visitor token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisitorClaims {
    /// The site the visitor is on.
    pub site_id: SiteId,
    /// The visitor.
    pub visitor_id: VisitorId,
    /// When the token stops being valid, in Unix seconds.
    pub expires_at: i64,
}

/// What a valid signed operator session token says: enough to accept it on a deployment that has
/// not received the session's record yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionClaims {
    /// The operator it was issued to.
    pub operator_id: protocol::OperatorId,
    /// When it expires, in Unix milliseconds.
    pub expires_at: i64,
    /// The issuing deployment's clock value when it was issued, at most the HLC of the session's
    /// record: a new password or role after it ends it.
    pub hlc: u64,
}

/// Signs and verifies visitor tokens with the deployment's secret.
#[derive(Clone)]
pub struct TokenSigner {
    /// The HMAC key. Deployments that must accept each other's visitors share it.
    secret: Vec<u8>,
}

impl TokenSigner {
    /// A signer using `secret` as the HMAC key.
    pub fn new(secret: &[u8]) -> Self {
        Self {
            secret: secret.to_vec(),
        }
    }

    /// Issues a token for `visitor` on `site` that expires at `expires_at` (Unix seconds).
    pub fn issue(&self, site: &SiteId, visitor: VisitorId, expires_at: i64) -> String {
        self.sign(&format!("v1|{}|{}|{}", site.0, visitor, expires_at))
    }

    /// Checks a token's signature and expiry at time `now` (Unix seconds).
    pub fn verify(&self, token: &str, now: i64) -> Result<VisitorClaims, AuthError> {
        let payload = self.signed_payload(token)?;
        let Some(["v1", site, visitor, expires]) = fields(&payload) else {
            return Err(AuthError::Invalid);
        };
        let visitor_id = VisitorId::parse(visitor).map_err(|_| AuthError::Invalid)?;
        let expires_at: i64 = expires.parse().map_err(|_| AuthError::Invalid)?;
        if expires_at <= now {
            return Err(AuthError::Expired);
        }
        Ok(VisitorClaims {
            site_id: SiteId(site.to_owned()),
            visitor_id,
            expires_at,
        })
    }

    /// Issues an operator session token: 256 random bits, signed with the operator, the expiry
    /// (Unix milliseconds) and the issuing clock value.
    pub fn issue_session(
        &self,
        operator: protocol::OperatorId,
        expires_at: i64,
        hlc: u64,
    ) -> String {
        let payload = format!("s1|{operator}|{expires_at}|{hlc}|{}", new_session_token());
        self.sign(&payload)
    }

    /// Checks a session token's signature and expiry at `now_ms` (Unix milliseconds). Tokens
    /// issued before sessions were signed (plain random strings) are [`AuthError::Invalid`]
    /// here and are found by their record alone.
    pub fn verify_session(&self, token: &str, now_ms: i64) -> Result<SessionClaims, AuthError> {
        let payload = self.signed_payload(token)?;
        let Some(["s1", operator, expires, hlc, _random]) = fields(&payload) else {
            return Err(AuthError::Invalid);
        };
        let operator_id = protocol::OperatorId::parse(operator).map_err(|_| AuthError::Invalid)?;
        let expires_at: i64 = expires.parse().map_err(|_| AuthError::Invalid)?;
        let hlc: u64 = hlc.parse().map_err(|_| AuthError::Invalid)?;
        if expires_at <= now_ms {
            return Err(AuthError::Expired);
        }
        Ok(SessionClaims {
            operator_id,
            expires_at,
            hlc,
        })
    }

    /// Issues an invitation token: it lets `operator` choose a password until `expires_at` (Unix
    /// milliseconds), as long as their account is still at `version` (the clock value of its
    /// record when invited). Choosing the password changes the record, so a token works once,
    /// on either deployment.
    pub fn issue_invitation(
        &self,
        operator: protocol::OperatorId,
        expires_at: i64,
        version: i64,
    ) -> String {
        self.sign(&format!("i1|{operator}|{expires_at}|{version}"))
    }

    /// Checks an invitation token's signature and expiry; returns (operator, version).
    pub fn verify_invitation(
        &self,
        token: &str,
        now_ms: i64,
    ) -> Result<(protocol::OperatorId, i64), AuthError> {
        let payload = self.signed_payload(token)?;
        let Some(["i1", operator, expires, version]) = fields(&payload) else {
            return Err(AuthError::Invalid);
        };
        let operator_id = protocol::OperatorId::parse(operator).map_err(|_| AuthError::Invalid)?;
        let expires_at: i64 = expires.parse().map_err(|_| AuthError::Invalid)?;
        let version: i64 = version.parse().map_err(|_| AuthError::Invalid)?;
        if expires_at <= now_ms {
            return Err(AuthError::Expired);
        }
        Ok((operator_id, version))
    }

    /// `base64url(payload) "." base64url(signature)`.
    /// A keyed digest of a fixed text, equal on two deployments exactly when they share the
    /// secret, for the replication link's introduction. Unlike [`TokenSigner::sign`] it carries
    /// no payload and is truncated, so it can never pass as a token.
    pub fn check_value(&self) -> String {
        let mut mac = self.mac();
        mac.update(b"livechat token secret check");
        URL_SAFE_NO_PAD.encode(&mac.finalize().into_bytes()[..12])
    }

    fn sign(&self, payload: &str) -> String {
        let mut mac = self.mac();
        mac.update(payload.as_bytes());
        let signature = mac.finalize().into_bytes();
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(payload),
            URL_SAFE_NO_PAD.encode(signature)
        )
    }

    /// The payload of a token whose signature matches, as text.
    fn signed_payload(&self, token: &str) -> Result<String, AuthError> {
        let (payload_b64, signature_b64) = token.split_once('.').ok_or(AuthError::Invalid)?;
        let payload = URL_SAFE_NO_PAD
            .decode(payload_b64)
            .map_err(|_| AuthError::Invalid)?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature_b64)
            .map_err(|_| AuthError::Invalid)?;
        let mut mac = self.mac();
        mac.update(&payload);
        // `verify_slice` compares in constant time, so the signature cannot be guessed byte by byte.
        mac.verify_slice(&signature)
            .map_err(|_| AuthError::Invalid)?;
        String::from_utf8(payload).map_err(|_| AuthError::Invalid)
    }

    fn mac(&self) -> HmacSha256 {
        HmacSha256::new_from_slice(&self.secret).expect("HMAC takes keys of any length")
    }
}

/// The `|`-separated fields of a token's payload, if there are exactly `N`.
fn fields<const N: usize>(payload: &str) -> Option<[&str; N]> {
    payload.split('|').collect::<Vec<_>>().try_into().ok()
}

/// Hashes a password with argon2id and a random salt, as a PHC string.
pub fn hash_password(password: &str) -> String {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 hashes any password with default parameters")
        .to_string()
}

/// Checks a password against a stored PHC string. A malformed stored hash never matches.
pub fn verify_password(password: &str, stored: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    PasswordHash::new(stored)
        .map(|hash| {
            argon2::Argon2::default()
                .verify_password(password.as_bytes(), &hash)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A new random operator session token (256 bits).
pub fn new_session_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The form in which a session token is stored and looked up.
pub fn session_token_hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// A new random secret for signing visitor tokens, used when none is configured.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Whether `presented` equals the configured shared secret (replication, moderator). No secret
/// configured matches nothing. Comparing digests keeps the comparison's duration independent of
/// the secret.
pub fn shared_secret_matches(configured: Option<&str>, presented: &str) -> bool {
    configured.is_some_and(|secret| {
        Sha256::digest(secret.as_bytes()) == Sha256::digest(presented.as_bytes())
    })
}

/// Whether `signature` (lowercase hex) is HMAC-SHA256 of `user_id` keyed with a site's identity
/// secret: the site's backend vouches for its signed-in user. The MAC's own check compares in
/// constant time.
pub fn user_signature_matches(secret: &str, user_id: &str, signature: &str) -> bool {
    let digits = signature.as_bytes();
    if digits.len() != 64 {
        return false;
    }
    let nibble = |b: u8| match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    };
    let mut bytes = [0u8; 32];
    for (i, pair) in digits.chunks(2).enumerate() {
        match (nibble(pair[0]), nibble(pair[1])) {
            (Some(high), Some(low)) => bytes[i] = high << 4 | low,
            _ => return false,
        }
    }
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(user_id.as_bytes());
    mac.verify_slice(&bytes).is_ok()
}

/// The signature a site's backend computes for `user_id` (`server site sign-user`, and tests).
pub fn sign_user(secret: &str, user_id: &str) -> String {
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(user_id.as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The visitor a verified user always is on a site, derived from the site and the user id: every
/// deployment and every device arrives at the same one without asking anyone, so both
/// deployments creating it during a split is one visitor (visitors are grow-only). Not a
/// secret: only a token a deployment signed lets anyone act as it.
pub fn user_visitor_id(site: &SiteId, user_id: &str) -> VisitorId {
    let digest = Sha256::new()
        .chain_update(b"livechat verified user\0")
        .chain_update(site.0.as_bytes())
        .chain_update([0])
        .chain_update(user_id.as_bytes())
        .finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    VisitorId(uuid::Builder::from_custom_bytes(bytes).into_uuid())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn visitor() -> VisitorId {
        VisitorId::from_parts(1_700_000_000_000, [7; 10])
    }

    #[test]
    fn a_user_signature_holds_for_its_user_and_secret_only() {
        let signature = sign_user("site secret", "alice");
        assert!(user_signature_matches("site secret", "alice", &signature));
        assert!(!user_signature_matches("site secret", "bob", &signature));
        assert!(!user_signature_matches("other secret", "alice", &signature));
        assert!(!user_signature_matches(
            "site secret",
            "alice",
            &signature.to_uppercase()
        ));
        assert!(!user_signature_matches(
            "site secret",
            "alice",
            &signature[..62]
        ));
        assert!(!user_signature_matches("site secret", "alice", ""));
    }

    #[test]
    fn a_user_is_the_same_visitor_everywhere_and_only_on_their_site() {
        let shop = SiteId("shop".into());
        let id = user_visitor_id(&shop, "alice");
        assert_eq!(id, user_visitor_id(&shop, "alice"));
        assert_ne!(id, user_visitor_id(&shop, "alice2"));
        assert_ne!(id, user_visitor_id(&SiteId("blog".into()), "alice"));
        // The separator keeps ("ab", "c") and ("a", "bc") apart.
        assert_ne!(
            user_visitor_id(&SiteId("ab".into()), "c"),
            user_visitor_id(&SiteId("a".into()), "bc")
        );
    }

    #[test]
    fn a_token_verifies_with_its_secret_only() {
        let signer = TokenSigner::new(b"secret one");
        let token = signer.issue(&SiteId("acme".into()), visitor(), 2_000);
        let claims = signer.verify(&token, 1_000).unwrap();
        assert_eq!(claims.visitor_id, visitor());
        assert_eq!(claims.site_id, SiteId("acme".into()));
        assert_eq!(
            TokenSigner::new(b"secret two").verify(&token, 1_000),
            Err(AuthError::Invalid)
        );
    }

    #[test]
    fn expired_and_tampered_tokens_are_refused() {
        let signer = TokenSigner::new(b"s");
        let token = signer.issue(&SiteId("acme".into()), visitor(), 2_000);
        assert_eq!(signer.verify(&token, 2_000), Err(AuthError::Expired));
        let (payload, signature) = token.split_once('.').unwrap();
        let forged_payload = URL_SAFE_NO_PAD.encode(format!("v1|acme|{}|9999999999", visitor()));
        assert_eq!(
            signer.verify(&format!("{forged_payload}.{signature}"), 1_000),
            Err(AuthError::Invalid)
        );
        assert_eq!(signer.verify(payload, 1_000), Err(AuthError::Invalid));
        assert_eq!(signer.verify("", 1_000), Err(AuthError::Invalid));
        assert_eq!(signer.verify("a.b.c", 1_000), Err(AuthError::Invalid));
    }

    #[test]
    fn session_tokens_verify_with_their_secret_and_never_as_visitor_tokens() {
        let signer = TokenSigner::new(b"secret one");
        let operator = protocol::OperatorId::from_parts(1_700_000_000_000, [9; 10]);
        let token = signer.issue_session(operator, 5_000, 42);
        let claims = signer.verify_session(&token, 4_000).unwrap();
        assert_eq!(
            (claims.operator_id, claims.expires_at, claims.hlc),
            (operator, 5_000, 42)
        );
        assert_eq!(
            signer.verify_session(&token, 5_000),
            Err(AuthError::Expired)
        );
        assert_eq!(
            TokenSigner::new(b"secret two").verify_session(&token, 4_000),
            Err(AuthError::Invalid)
        );
        assert_eq!(signer.verify(&token, 4), Err(AuthError::Invalid));
        let visitor_token = signer.issue(&SiteId("acme".into()), visitor(), 2_000);
        assert_eq!(
            signer.verify_session(&visitor_token, 1_000),
            Err(AuthError::Invalid)
        );
        assert_eq!(
            signer.verify_session(&new_session_token(), 1_000),
            Err(AuthError::Invalid)
        );
        assert_ne!(
            token,
            signer.issue_session(operator, 5_000, 42),
            "random part"
        );
    }

    #[test]
    fn passwords_verify_only_against_their_own_hash() {
        let hash = hash_password("correct horse");
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("wrong horse", &hash));
        assert!(!verify_password("correct horse", "not a hash"));
    }

    #[test]
    fn session_tokens_are_unique_and_stored_hashed() {
        let a = new_session_token();
        let b = new_session_token();
        assert_ne!(a, b);
        assert_eq!(session_token_hash(&a).len(), 64);
        assert_ne!(session_token_hash(&a), a);
    }
}
