//! The signature schemes: which headers carry what, and which bytes are signed.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderMap, HeaderName};

use crate::error::{Error, Rejection};

/// A webhook signature scheme.
///
/// | scheme | signature header | signed bytes | timestamp | algorithm |
/// |---|---|---|---|---|
/// | [`StandardWebhooks`](Self::StandardWebhooks), [`Svix`](Self::Svix) | `webhook-signature` / `svix-signature`: space-separated `v1,<base64>` / `v1a,<base64>` | `{id}.{timestamp}.{body}` | `webhook-timestamp` | HMAC-SHA256 (`v1`), Ed25519 (`v1a`) |
/// | [`Stripe`](Self::Stripe) | `Stripe-Signature: t=<ts>,v1=<hex>[,v1=<hex>...]` | `{t}.{body}` | `t=` | HMAC-SHA256 |
/// | [`GitHub`](Self::GitHub) | `X-Hub-Signature-256: sha256=<hex>` | body | none | HMAC-SHA256 |
/// | [`Slack`](Self::Slack) | `X-Slack-Signature: v0=<hex>` | `v0:{ts}:{body}` | `X-Slack-Request-Timestamp` | HMAC-SHA256 |
/// | [`Linear`](Self::Linear) | `Linear-Signature: <hex>` | body | body's `webhookTimestamp` (ms) | HMAC-SHA256 |
/// | [`Jira`](Self::Jira) | `X-Hub-Signature: sha256=<hex>` | body | none | HMAC-SHA256 |
/// | [`Shopify`](Self::Shopify) | `X-Shopify-Hmac-SHA256: <base64>` | body | none | HMAC-SHA256 |
/// | [`Zoom`](Self::Zoom) | `x-zm-signature: v0=<hex>` | `v0:{ts}:{body}` | `x-zm-request-timestamp` | HMAC-SHA256 |
/// | [`Discord`](Self::Discord) | `X-Signature-Ed25519: <hex>` | `{ts}{body}` | `X-Signature-Timestamp` | Ed25519 |
/// | [`Twilio`](Self::Twilio) | `X-Twilio-Signature: <base64>` | URL, then each form parameter's name and value, sorted | none | HMAC-SHA1 |
/// | [`Generic`](Self::Generic) | configured | configured template | optional header | HMAC-SHA1/256/512 |
///
/// [`StandardWebhooks`](Self::StandardWebhooks) and [`Svix`](Self::Svix) verify the
/// same way (either header family is accepted); they differ only in the header names
/// they sign with.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Scheme {
    /// Standard Webhooks 1.0, signing with `webhook-*` headers.
    StandardWebhooks,
    /// Svix: Standard Webhooks with `svix-*` headers.
    Svix,
    /// Stripe.
    Stripe,
    /// GitHub (`X-Hub-Signature-256`).
    GitHub,
    /// Slack request signing (`v0`).
    Slack,
    /// Linear.
    Linear,
    /// Jira Cloud (`X-Hub-Signature`).
    Jira,
    /// Shopify.
    Shopify,
    /// Zoom.
    Zoom,
    /// Discord interactions (Ed25519).
    Discord,
    /// Twilio (HMAC-SHA1 over the URL and the sorted form parameters).
    Twilio,
    /// A configurable HMAC scheme.
    Generic(GenericHmac),
}

/// The names [`Scheme::from_str`] accepts, as the CLI spells them.
pub const SCHEME_NAMES: [&str; 11] = [
    "standard", "svix", "stripe", "github", "slack", "linear", "jira", "shopify", "zoom",
    "discord", "twilio",
];

impl Scheme {
    /// The scheme's name (`standard`, `stripe`, ..., `generic`).
    pub fn name(&self) -> &'static str {
        match self {
            Self::StandardWebhooks => "standard",
            Self::Svix => "svix",
            Self::Stripe => "stripe",
            Self::GitHub => "github",
            Self::Slack => "slack",
            Self::Linear => "linear",
            Self::Jira => "jira",
            Self::Shopify => "shopify",
            Self::Zoom => "zoom",
            Self::Discord => "discord",
            Self::Twilio => "twilio",
            Self::Generic(_) => "generic",
        }
    }

    /// Whether the scheme carries a signed timestamp (in a header, or Linear's body).
    pub fn has_timestamp(&self) -> bool {
        match self {
            Self::StandardWebhooks
            | Self::Svix
            | Self::Stripe
            | Self::Slack
            | Self::Linear
            | Self::Zoom
            | Self::Discord => true,
            Self::GitHub | Self::Jira | Self::Shopify | Self::Twilio => false,
            Self::Generic(generic) => generic.timestamp_header.is_some(),
        }
    }

    /// Whether the scheme signs the request URL (Twilio).
    pub fn needs_url(&self) -> bool {
        matches!(self, Self::Twilio)
    }

    /// The provider's recommended maximum age: 60 s for Linear, 300 s for the others.
    pub fn default_tolerance(&self) -> Duration {
        match self {
            Self::Linear => Duration::from_secs(60),
            _ => Duration::from_secs(300),
        }
    }

    pub(crate) fn algorithm(&self) -> Algorithm {
        match self {
            Self::Discord => Algorithm::Ed25519,
            Self::Twilio => Algorithm::Hmac(HmacAlgorithm::Sha1),
            Self::Generic(generic) => Algorithm::Hmac(generic.algorithm),
            Self::StandardWebhooks | Self::Svix => Algorithm::HmacOrEd25519,
            _ => Algorithm::Hmac(HmacAlgorithm::Sha256),
        }
    }

    /// Reads the scheme's headers: signatures, timestamp, message id.
    pub(crate) fn parse<'a>(&'a self, headers: &'a HeaderMap) -> Result<Parsed<'a>, Rejection> {
        let mut parsed = Parsed::default();
        match self {
            Self::StandardWebhooks | Self::Svix => {
                // Svix's names only when no `webhook-signature` is there and some
                // `svix-*` header is, so a missing header is reported by its real name.
                let svix = !headers.contains_key(&WEBHOOK_SIGNATURE)
                    && [&SVIX_SIGNATURE, &SVIX_ID, &SVIX_TIMESTAMP]
                        .iter()
                        .any(|name| headers.contains_key(*name));
                let names = if !svix {
                    [WEBHOOK_ID, WEBHOOK_TIMESTAMP, WEBHOOK_SIGNATURE]
                } else {
                    [SVIX_ID, SVIX_TIMESTAMP, SVIX_SIGNATURE]
                };
                let [id, timestamp, signature] = names;
                let signatures = required(headers, &signature)?;
                parsed.id = Some(non_empty(required(headers, &id)?, &id)?);
                parsed.timestamp = Some(Timestamp::parse(
                    required(headers, &timestamp)?,
                    &timestamp,
                )?);
                parse_standard_signatures(signatures, &signature, &mut parsed)?;
            }
            Self::Stripe => parse_stripe(required(headers, &STRIPE_SIGNATURE)?, &mut parsed)?,
            Self::GitHub | Self::Jira => {
                let name = if matches!(self, Self::GitHub) {
                    HUB_SIGNATURE_256
                } else {
                    HUB_SIGNATURE
                };
                let hex = strip(required(headers, &name)?, b"sha256=", &name)?;
                parsed.add(decode_hex(hex, 32), Kind::Hmac);
            }
            Self::Slack | Self::Zoom => {
                let (signature, timestamp) = if matches!(self, Self::Slack) {
                    (SLACK_SIGNATURE, SLACK_TIMESTAMP)
                } else {
                    (ZOOM_SIGNATURE, ZOOM_TIMESTAMP)
                };
                let value = required(headers, &signature)?;
                let hex = strip(value, b"v0=", &signature)?;
                parsed.timestamp = Some(Timestamp::parse(
                    required(headers, &timestamp)?,
                    &timestamp,
                )?);
                parsed.add(decode_hex(hex, 32), Kind::Hmac);
            }
            Self::Linear => {
                parsed.add(
                    decode_hex(required(headers, &LINEAR_SIGNATURE)?, 32),
                    Kind::Hmac,
                );
            }
            Self::Shopify => {
                parsed.add(
                    decode_base64(required(headers, &SHOPIFY_HMAC)?, 32),
                    Kind::Hmac,
                );
            }
            Self::Discord => {
                let signature = required(headers, &DISCORD_SIGNATURE)?;
                parsed.timestamp = Some(Timestamp::parse(
                    required(headers, &DISCORD_TIMESTAMP)?,
                    &DISCORD_TIMESTAMP,
                )?);
                parsed.add(decode_hex(signature, 64), Kind::Ed25519);
            }
            Self::Twilio => {
                parsed.add(
                    decode_base64(required(headers, &TWILIO_SIGNATURE)?, 20),
                    Kind::Hmac,
                );
            }
            Self::Generic(generic) => generic.parse(headers, &mut parsed)?,
        }
        Ok(parsed)
    }

    /// The signed bytes, as a list of pieces to feed the MAC or signature in order.
    pub(crate) fn content<'a>(
        &'a self,
        input: &Inputs<'a>,
    ) -> Result<Vec<Cow<'a, [u8]>>, Rejection> {
        let ts = || input.timestamp.unwrap_or_default();
        let id = || input.id.unwrap_or_default();
        let body = input.body;
        let pieces: Vec<Cow<'a, [u8]>> = match self {
            Self::StandardWebhooks | Self::Svix => vec![
                id().into(),
                b".".into(),
                ts().into(),
                b".".into(),
                body.into(),
            ],
            Self::Stripe => vec![ts().into(), b".".into(), body.into()],
            Self::Slack | Self::Zoom => {
                vec![b"v0:".into(), ts().into(), b":".into(), body.into()]
            }
            Self::Discord => vec![ts().into(), body.into()],
            Self::GitHub | Self::Jira | Self::Shopify | Self::Linear => vec![body.into()],
            Self::Twilio => {
                vec![twilio_content(input.url.ok_or(Rejection::MissingUrl)?, body)?.into()]
            }
            Self::Generic(generic) => generic
                .template
                .iter()
                .map(|segment| match segment {
                    Segment::Literal(text) => Cow::Borrowed(text.as_slice()),
                    Segment::Body => body.into(),
                    Segment::Timestamp => ts().into(),
                    Segment::Id => id().into(),
                })
                .collect(),
        };
        Ok(pieces)
    }

    /// Whether the replay guard can key on the message id: only when the id is signed.
    pub(crate) fn id_is_signed(&self) -> bool {
        match self {
            Self::StandardWebhooks | Self::Svix => true,
            Self::Generic(generic) => generic.template.contains(&Segment::Id),
            _ => false,
        }
    }

    /// The headers a signed delivery carries, given the encoded signature.
    pub(crate) fn signed_headers(
        &self,
        input: &Inputs<'_>,
        signature: &[u8],
        ed25519: bool,
    ) -> Result<Vec<(HeaderName, Vec<u8>)>, Error> {
        let ts = input.timestamp.unwrap_or_default().to_vec();
        let hex = || hex::encode(signature).into_bytes();
        let b64 = || STANDARD.encode(signature).into_bytes();
        let prefixed = |prefix: &str, value: Vec<u8>| [prefix.as_bytes(), &value].concat();
        Ok(match self {
            Self::StandardWebhooks | Self::Svix => {
                let (id, timestamp, sig) = if matches!(self, Self::Svix) {
                    (SVIX_ID, SVIX_TIMESTAMP, SVIX_SIGNATURE)
                } else {
                    (WEBHOOK_ID, WEBHOOK_TIMESTAMP, WEBHOOK_SIGNATURE)
                };
                let version = if ed25519 { "v1a," } else { "v1," };
                vec![
                    (id, input.id.unwrap_or_default().to_vec()),
                    (timestamp, ts),
                    (sig, prefixed(version, b64())),
                ]
            }
            Self::Stripe => vec![(
                STRIPE_SIGNATURE,
                [b"t=".as_slice(), &ts, b",v1=", &hex()].concat(),
            )],
            Self::GitHub => vec![(HUB_SIGNATURE_256, prefixed("sha256=", hex()))],
            Self::Jira => vec![(HUB_SIGNATURE, prefixed("sha256=", hex()))],
            Self::Slack => vec![
                (SLACK_TIMESTAMP, ts),
                (SLACK_SIGNATURE, prefixed("v0=", hex())),
            ],
            Self::Zoom => vec![
                (ZOOM_TIMESTAMP, ts),
                (ZOOM_SIGNATURE, prefixed("v0=", hex())),
            ],
            Self::Linear => vec![(LINEAR_SIGNATURE, hex())],
            Self::Shopify => vec![(SHOPIFY_HMAC, b64())],
            Self::Discord => vec![(DISCORD_SIGNATURE, hex()), (DISCORD_TIMESTAMP, ts)],
            Self::Twilio => vec![(TWILIO_SIGNATURE, b64())],
            Self::Generic(generic) => {
                let mut headers = Vec::with_capacity(3);
                if let Some(name) = &generic.id_header {
                    headers.push((name.clone(), input.id.unwrap_or_default().to_vec()));
                }
                if let Some(name) = &generic.timestamp_header {
                    headers.push((name.clone(), ts));
                }
                let encoded = match generic.encoding {
                    Encoding::Hex => hex(),
                    Encoding::Base64 => b64(),
                };
                headers.push((
                    generic.signature_header.clone(),
                    [generic.prefix.as_slice(), &encoded].concat(),
                ));
                headers
            }
        })
    }

    pub(crate) fn needs_id(&self) -> bool {
        match self {
            Self::StandardWebhooks | Self::Svix => true,
            Self::Generic(generic) => generic.id_header.is_some(),
            _ => false,
        }
    }

    /// Whether the timestamp travels in a header (and so must be given to sign).
    pub(crate) fn timestamp_in_header(&self) -> bool {
        self.has_timestamp() && !matches!(self, Self::Linear)
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Scheme {
    type Err = Error;

    /// One of [`SCHEME_NAMES`]. The generic scheme is built with [`GenericHmac::builder`].
    fn from_str(name: &str) -> Result<Self, Error> {
        Ok(match name {
            "standard" => Self::StandardWebhooks,
            "svix" => Self::Svix,
            "stripe" => Self::Stripe,
            "github" => Self::GitHub,
            "slack" => Self::Slack,
            "linear" => Self::Linear,
            "jira" => Self::Jira,
            "shopify" => Self::Shopify,
            "zoom" => Self::Zoom,
            "discord" => Self::Discord,
            "twilio" => Self::Twilio,
            other => {
                return Err(Error::config(format!(
                    "unknown scheme {other:?}: expected one of {}",
                    SCHEME_NAMES.join(", ")
                )));
            }
        })
    }
}

pub(crate) const WEBHOOK_ID: HeaderName = HeaderName::from_static("webhook-id");
pub(crate) const WEBHOOK_TIMESTAMP: HeaderName = HeaderName::from_static("webhook-timestamp");
pub(crate) const WEBHOOK_SIGNATURE: HeaderName = HeaderName::from_static("webhook-signature");
pub(crate) const SVIX_ID: HeaderName = HeaderName::from_static("svix-id");
pub(crate) const SVIX_TIMESTAMP: HeaderName = HeaderName::from_static("svix-timestamp");
pub(crate) const SVIX_SIGNATURE: HeaderName = HeaderName::from_static("svix-signature");
const STRIPE_SIGNATURE: HeaderName = HeaderName::from_static("stripe-signature");
const HUB_SIGNATURE_256: HeaderName = HeaderName::from_static("x-hub-signature-256");
const HUB_SIGNATURE: HeaderName = HeaderName::from_static("x-hub-signature");
const SLACK_SIGNATURE: HeaderName = HeaderName::from_static("x-slack-signature");
const SLACK_TIMESTAMP: HeaderName = HeaderName::from_static("x-slack-request-timestamp");
const LINEAR_SIGNATURE: HeaderName = HeaderName::from_static("linear-signature");
const SHOPIFY_HMAC: HeaderName = HeaderName::from_static("x-shopify-hmac-sha256");
const ZOOM_SIGNATURE: HeaderName = HeaderName::from_static("x-zm-signature");
const ZOOM_TIMESTAMP: HeaderName = HeaderName::from_static("x-zm-request-timestamp");
const DISCORD_SIGNATURE: HeaderName = HeaderName::from_static("x-signature-ed25519");
const DISCORD_TIMESTAMP: HeaderName = HeaderName::from_static("x-signature-timestamp");
const TWILIO_SIGNATURE: HeaderName = HeaderName::from_static("x-twilio-signature");

/// At most this many signatures are read from one header: each costs a MAC comparison
/// or an Ed25519 verification, and no sender needs more during a rotation.
const MAX_SIGNATURES: usize = 16;

/// A HMAC hash function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum HmacAlgorithm {
    /// HMAC-SHA1 (20-byte tags; Twilio).
    Sha1,
    /// HMAC-SHA256 (32-byte tags).
    #[default]
    Sha256,
    /// HMAC-SHA512 (64-byte tags).
    Sha512,
}

impl HmacAlgorithm {
    pub(crate) fn tag_len(self) -> usize {
        match self {
            Self::Sha1 => 20,
            Self::Sha256 => 32,
            Self::Sha512 => 64,
        }
    }
}

/// How a signature is written in its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Encoding {
    /// Lowercase hexadecimal (uppercase is accepted when verifying).
    #[default]
    Hex,
    /// Standard base64 with padding.
    Base64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Algorithm {
    Hmac(HmacAlgorithm),
    Ed25519,
    HmacOrEd25519,
}

/// A configurable HMAC scheme: signature header, prefix, encoding, hash function,
/// optional timestamp and id headers, and the template of the signed bytes.
///
/// The template is literal text with the placeholders `{body}` (exactly once),
/// `{timestamp}` and `{id}` (each needs its header configured).
///
/// ```
/// use webhook_verify::{Encoding, GenericHmac, Scheme};
///
/// let scheme = Scheme::Generic(
///     GenericHmac::builder("x-acme-signature")
///         .prefix("sha256=")
///         .encoding(Encoding::Hex)
///         .timestamp_header("x-acme-timestamp")
///         .template("{timestamp}.{body}")
///         .build()?,
/// );
/// assert!(scheme.has_timestamp());
/// # Ok::<(), webhook_verify::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenericHmac {
    signature_header: HeaderName,
    prefix: Vec<u8>,
    encoding: Encoding,
    algorithm: HmacAlgorithm,
    timestamp_header: Option<HeaderName>,
    id_header: Option<HeaderName>,
    template: Vec<Segment>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(Vec<u8>),
    Body,
    Timestamp,
    Id,
}

/// Builds a [`GenericHmac`]; defaults: no prefix, hex, SHA-256, template `{body}`.
#[derive(Debug, Clone)]
#[must_use]
pub struct GenericHmacBuilder {
    signature_header: String,
    prefix: String,
    encoding: Encoding,
    algorithm: HmacAlgorithm,
    timestamp_header: Option<String>,
    id_header: Option<String>,
    template: String,
}

impl GenericHmac {
    /// Starts a scheme whose signature travels in `signature_header`.
    pub fn builder(signature_header: impl Into<String>) -> GenericHmacBuilder {
        GenericHmacBuilder {
            signature_header: signature_header.into(),
            prefix: String::new(),
            encoding: Encoding::Hex,
            algorithm: HmacAlgorithm::Sha256,
            timestamp_header: None,
            id_header: None,
            template: "{body}".to_owned(),
        }
    }

    fn parse<'a>(
        &'a self,
        headers: &'a HeaderMap,
        parsed: &mut Parsed<'a>,
    ) -> Result<(), Rejection> {
        let value = required(headers, &self.signature_header)?;
        let encoded = strip(value, &self.prefix, &self.signature_header)?;
        let len = self.algorithm.tag_len();
        let decoded = match self.encoding {
            Encoding::Hex => decode_hex(encoded, len),
            Encoding::Base64 => decode_base64(encoded, len),
        };
        if let Some(name) = &self.timestamp_header {
            parsed.timestamp = Some(Timestamp::parse(required(headers, name)?, name)?);
        }
        if let Some(name) = &self.id_header {
            parsed.id = Some(non_empty(required(headers, name)?, name)?);
        }
        parsed.add(decoded, Kind::Hmac);
        Ok(())
    }
}

impl GenericHmacBuilder {
    /// Text before the encoded signature (`sha256=`, `v1=`). Default: none.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Hex or base64. Default: hex.
    pub fn encoding(mut self, encoding: Encoding) -> Self {
        self.encoding = encoding;
        self
    }

    /// The hash function. Default: SHA-256.
    pub fn algorithm(mut self, algorithm: HmacAlgorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    /// The header carrying a Unix timestamp in seconds; it is checked against the
    /// verifier's window, and should appear in the template as `{timestamp}`.
    pub fn timestamp_header(mut self, name: impl Into<String>) -> Self {
        self.timestamp_header = Some(name.into());
        self
    }

    /// The header carrying a message id, usable in the template as `{id}`; a signed id
    /// keys the replay guard.
    pub fn id_header(mut self, name: impl Into<String>) -> Self {
        self.id_header = Some(name.into());
        self
    }

    /// The signed bytes: literal text with `{body}`, `{timestamp}` and `{id}`.
    /// Default: `{body}`.
    pub fn template(mut self, template: impl Into<String>) -> Self {
        self.template = template.into();
        self
    }

    /// Checks the configuration.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for an invalid header name, a template without exactly one
    /// `{body}`, an unknown placeholder, or a placeholder whose header is not set.
    pub fn build(self) -> Result<GenericHmac, Error> {
        let header = |name: &str| {
            HeaderName::from_bytes(name.trim().as_bytes())
                .map_err(|_| Error::config(format!("{name:?} is not a valid header name")))
        };
        let signature_header = header(&self.signature_header)?;
        let timestamp_header = self.timestamp_header.as_deref().map(header).transpose()?;
        let id_header = self.id_header.as_deref().map(header).transpose()?;
        let template = parse_template(&self.template)?;
        let count = |wanted: &Segment| template.iter().filter(|s| *s == wanted).count();
        if count(&Segment::Body) != 1 {
            return Err(Error::config(
                "the template must contain {body} exactly once",
            ));
        }
        if count(&Segment::Timestamp) > 0 && timestamp_header.is_none() {
            return Err(Error::config(
                "the template uses {timestamp}: set timestamp_header",
            ));
        }
        if count(&Segment::Id) > 0 && id_header.is_none() {
            return Err(Error::config("the template uses {id}: set id_header"));
        }
        if timestamp_header.is_some() && count(&Segment::Timestamp) == 0 {
            return Err(Error::config(
                "timestamp_header is set but the template does not sign {timestamp}: an unsigned timestamp protects nothing",
            ));
        }
        Ok(GenericHmac {
            signature_header,
            prefix: self.prefix.into_bytes(),
            encoding: self.encoding,
            algorithm: self.algorithm,
            timestamp_header,
            id_header,
            template,
        })
    }
}

fn parse_template(template: &str) -> Result<Vec<Segment>, Error> {
    let mut segments = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        if open > 0 {
            segments.push(Segment::Literal(rest.as_bytes()[..open].to_vec()));
        }
        let after = &rest[open..];
        let close = after
            .find('}')
            .ok_or_else(|| Error::config("unclosed { in the template"))?;
        segments.push(match &after[..=close] {
            "{body}" => Segment::Body,
            "{timestamp}" => Segment::Timestamp,
            "{id}" => Segment::Id,
            other => {
                return Err(Error::config(format!(
                    "unknown placeholder {other} in the template: use {{body}}, {{timestamp}} or {{id}}"
                )));
            }
        });
        rest = &after[close + 1..];
    }
    if !rest.is_empty() {
        segments.push(Segment::Literal(rest.as_bytes().to_vec()));
    }
    Ok(segments)
}

/// What the headers say: candidate signatures, timestamp, id.
#[derive(Default)]
pub(crate) struct Parsed<'a> {
    pub(crate) candidates: Vec<Candidate>,
    pub(crate) timestamp: Option<Timestamp<'a>>,
    pub(crate) id: Option<&'a [u8]>,
    /// Why the first unusable signature entry was unusable, reported when no entry
    /// is usable at all.
    pub(crate) first_error: Option<Rejection>,
}

impl Parsed<'_> {
    fn add(&mut self, decoded: Result<Tag, Rejection>, kind: Kind) {
        match decoded {
            Ok(tag) => self.candidates.push(Candidate { kind, tag }),
            Err(rejection) => {
                self.first_error.get_or_insert(rejection);
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Hmac,
    Ed25519,
}

/// A decoded signature, up to 64 bytes.
pub(crate) struct Candidate {
    pub(crate) kind: Kind,
    pub(crate) tag: Tag,
}

#[derive(Clone, Copy)]
pub(crate) struct Tag {
    bytes: [u8; 64],
    len: usize,
}

impl Tag {
    pub(crate) fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// A timestamp header: its exact text (which is what gets signed) and its value.
#[derive(Clone, Copy)]
pub(crate) struct Timestamp<'a> {
    pub(crate) text: &'a [u8],
    pub(crate) unix: i64,
}

impl<'a> Timestamp<'a> {
    /// Canonical decimal seconds only: no sign, no leading zero, no spaces, at most 18
    /// digits, so that the signed text and the checked value cannot disagree.
    fn parse(text: &'a [u8], name: &HeaderName) -> Result<Self, Rejection> {
        let malformed = || Rejection::MalformedHeader(name.clone());
        if text.is_empty()
            || text.len() > 18
            || !text.iter().all(u8::is_ascii_digit)
            || (text.len() > 1 && text[0] == b'0')
        {
            return Err(malformed());
        }
        let unix = text
            .iter()
            .fold(0i64, |acc, digit| acc * 10 + i64::from(digit - b'0'));
        Ok(Self { text, unix })
    }
}

/// The inputs of the signed content.
pub(crate) struct Inputs<'a> {
    pub(crate) id: Option<&'a [u8]>,
    pub(crate) timestamp: Option<&'a [u8]>,
    pub(crate) body: &'a [u8],
    pub(crate) url: Option<&'a str>,
}

/// The one value of a header; a repeated header is malformed (which copy would count?).
fn header<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Result<Option<&'a [u8]>, Rejection> {
    let mut values = headers.get_all(name).iter();
    let first = values.next();
    if values.next().is_some() {
        return Err(Rejection::MalformedHeader(name.clone()));
    }
    Ok(first.map(|value| value.as_bytes()))
}

fn required<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Result<&'a [u8], Rejection> {
    header(headers, name)?.ok_or_else(|| Rejection::MissingHeader(name.clone()))
}

fn non_empty<'a>(value: &'a [u8], name: &HeaderName) -> Result<&'a [u8], Rejection> {
    if value.is_empty() {
        Err(Rejection::MalformedHeader(name.clone()))
    } else {
        Ok(value)
    }
}

fn strip<'a>(value: &'a [u8], prefix: &[u8], name: &HeaderName) -> Result<&'a [u8], Rejection> {
    value
        .strip_prefix(prefix)
        .ok_or_else(|| Rejection::MalformedHeader(name.clone()))
}

fn parse_standard_signatures<'a>(
    value: &'a [u8],
    name: &HeaderName,
    parsed: &mut Parsed<'a>,
) -> Result<(), Rejection> {
    let entries = value
        .split(|&b| b == b' ')
        .filter(|entry| !entry.is_empty());
    for (count, entry) in entries.enumerate() {
        if count == MAX_SIGNATURES {
            return Err(Rejection::MalformedHeader(name.clone()));
        }
        let Some(comma) = entry.iter().position(|&b| b == b',') else {
            parsed
                .first_error
                .get_or_insert(Rejection::MalformedHeader(name.clone()));
            continue;
        };
        let (version, signature) = (&entry[..comma], &entry[comma + 1..]);
        match version {
            b"v1" => parsed.add(decode_base64(signature, 32), Kind::Hmac),
            b"v1a" => parsed.add(decode_base64(signature, 64), Kind::Ed25519),
            _ => {}
        }
    }
    Ok(())
}

fn parse_stripe<'a>(value: &'a [u8], parsed: &mut Parsed<'a>) -> Result<(), Rejection> {
    let malformed = || Rejection::MalformedHeader(STRIPE_SIGNATURE);
    let mut timestamp = None;
    for (count, item) in value.split(|&b| b == b',').enumerate() {
        if count == MAX_SIGNATURES {
            return Err(malformed());
        }
        let Some(eq) = item.iter().position(|&b| b == b'=') else {
            return Err(malformed());
        };
        let (key, val) = (&item[..eq], &item[eq + 1..]);
        match key {
            b"t" => {
                if timestamp.is_some() {
                    return Err(malformed());
                }
                timestamp = Some(Timestamp::parse(val, &STRIPE_SIGNATURE)?);
            }
            b"v1" => parsed.add(decode_hex(val, 32), Kind::Hmac),
            _ => {}
        }
    }
    parsed.timestamp = Some(timestamp.ok_or_else(malformed)?);
    Ok(())
}

fn decode_hex(text: &[u8], len: usize) -> Result<Tag, Rejection> {
    if text.is_empty() {
        return Err(Rejection::EmptySignature);
    }
    if !text.iter().all(u8::is_ascii_hexdigit) {
        return Err(Rejection::SignatureEncoding);
    }
    if text.len() != 2 * len {
        return Err(Rejection::SignatureLength);
    }
    let mut tag = Tag {
        bytes: [0; 64],
        len,
    };
    hex::decode_to_slice(text, &mut tag.bytes[..len]).map_err(|_| Rejection::SignatureEncoding)?;
    Ok(tag)
}

fn decode_base64(text: &[u8], len: usize) -> Result<Tag, Rejection> {
    if text.is_empty() {
        return Err(Rejection::EmptySignature);
    }
    // Canonical padded base64 of `len` bytes is exactly this long; anything else is
    // the wrong length (or not base64, which the decoder reports below).
    let expected = len.div_ceil(3) * 4;
    if text.len() != expected {
        let alphabet = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=');
        return Err(if text.iter().all(alphabet) {
            Rejection::SignatureLength
        } else {
            Rejection::SignatureEncoding
        });
    }
    let mut tag = Tag {
        bytes: [0; 64],
        len,
    };
    let mut buffer = [0u8; 66];
    let written = STANDARD
        .decode_slice(text, &mut buffer)
        .map_err(|_| Rejection::SignatureEncoding)?;
    if written != len {
        return Err(Rejection::SignatureLength);
    }
    tag.bytes[..len].copy_from_slice(&buffer[..len]);
    Ok(tag)
}

/// Twilio's signed bytes: the URL, then for each parameter name in sorted order, each
/// of its distinct values in sorted order, as name followed by value (what Twilio's own
/// validators compute).
fn twilio_content(url: &str, body: &[u8]) -> Result<Vec<u8>, Rejection> {
    let mut params = parse_form(body)?;
    params.sort();
    params.dedup();
    let len = url.len() + params.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>();
    let mut content = Vec::with_capacity(len);
    content.extend_from_slice(url.as_bytes());
    for (name, value) in &params {
        content.extend_from_slice(name.as_bytes());
        content.extend_from_slice(value.as_bytes());
    }
    Ok(content)
}

/// `application/x-www-form-urlencoded` parameters, decoded; names and values must be
/// UTF-8 once decoded.
pub(crate) fn parse_form(body: &[u8]) -> Result<Vec<(String, String)>, Rejection> {
    if std::str::from_utf8(body).is_err() {
        return Err(Rejection::NonUtf8Body);
    }
    body.split(|&b| b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = match pair.iter().position(|&b| b == b'=') {
                Some(eq) => (&pair[..eq], &pair[eq + 1..]),
                None => (pair, &b""[..]),
            };
            Ok((percent_decode(name)?, percent_decode(value)?))
        })
        .collect()
}

fn percent_decode(text: &[u8]) -> Result<String, Rejection> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = text.get(i + 1..i + 3).and_then(|pair| {
                    let digit = |b: u8| char::from(b).to_digit(16);
                    Some(digit(pair[0])? * 16 + digit(pair[1])?)
                });
                match hex.and_then(|value| u8::try_from(value).ok()) {
                    Some(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    // Like the common form decoders: a stray % stays as it is.
                    None => out.push(b'%'),
                }
            }
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| Rejection::NonUtf8Body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_must_be_canonical_decimal() {
        let name = WEBHOOK_TIMESTAMP;
        assert_eq!(
            Timestamp::parse(b"1614265330", &name).map(|t| t.unix).ok(),
            Some(1_614_265_330)
        );
        assert_eq!(Timestamp::parse(b"0", &name).map(|t| t.unix).ok(), Some(0));
        for bad in [
            &b""[..],
            b"-5",
            b"+5",
            b"0123",
            b" 12",
            b"12a",
            b"9999999999999999999",
        ] {
            assert!(Timestamp::parse(bad, &name).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn hex_and_base64_report_what_is_wrong() {
        assert_eq!(decode_hex(b"", 32).err(), Some(Rejection::EmptySignature));
        assert_eq!(
            decode_hex(b"zz", 32).err(),
            Some(Rejection::SignatureEncoding)
        );
        assert_eq!(
            decode_hex(b"abcd", 32).err(),
            Some(Rejection::SignatureLength)
        );
        assert_eq!(decode_hex(&[b'A'; 64], 32).map(|t| t.len).ok(), Some(32));
        assert_eq!(
            decode_base64(b"", 32).err(),
            Some(Rejection::EmptySignature)
        );
        assert_eq!(
            decode_base64(b"AAAA", 32).err(),
            Some(Rejection::SignatureLength)
        );
        assert_eq!(
            decode_base64(b"!!!!", 32).err(),
            Some(Rejection::SignatureEncoding)
        );
        let ok = STANDARD.encode([7u8; 32]);
        assert_eq!(
            decode_base64(ok.as_bytes(), 32)
                .map(|t| t.as_slice()[0])
                .ok(),
            Some(7)
        );
        // Right length, but non-canonical trailing bits are refused by the decoder.
        let mut bent = ok.into_bytes();
        bent[42] = b'B';
        assert_eq!(
            decode_base64(&bent, 32).err(),
            Some(Rejection::SignatureEncoding)
        );
    }

    #[test]
    fn templates_parse_into_segments() {
        let segments = parse_template("v0:{timestamp}:{body}").unwrap();
        assert_eq!(
            segments,
            vec![
                Segment::Literal(b"v0:".to_vec()),
                Segment::Timestamp,
                Segment::Literal(b":".to_vec()),
                Segment::Body
            ]
        );
        assert!(parse_template("{nope}").is_err());
        assert!(parse_template("{body").is_err());
    }

    #[test]
    fn form_bodies_decode_and_twilio_sorts_them() {
        let params = parse_form(b"To=%2B1555&Body=hi+there&Empty=&Flag").unwrap();
        assert_eq!(params[0], ("To".to_owned(), "+1555".to_owned()));
        assert_eq!(params[1], ("Body".to_owned(), "hi there".to_owned()));
        assert_eq!(params[2], ("Empty".to_owned(), String::new()));
        assert_eq!(params[3], ("Flag".to_owned(), String::new()));
        let content = twilio_content("https://x/y", b"b=2&a=1&a=0&a=1").unwrap();
        assert_eq!(content, b"https://x/ya0a1b2");
        assert_eq!(parse_form(b"a=%FF").err(), Some(Rejection::NonUtf8Body));
        assert_eq!(parse_form(b"a=\xff").err(), Some(Rejection::NonUtf8Body));
    }
}
