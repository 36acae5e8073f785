//! The signature schemes: which headers carry what, and which bytes are signed.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderMap, HeaderName};

use crate::crypto::Tag;
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
/// Message ids (Standard Webhooks, Svix, a generic scheme's `{id}`) are 1 to 256
/// letters, digits, `_` or `-`; a delivery with any other id is malformed.
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

/// How a scheme lays out its headers. Every HMAC scheme whose signature is one header
/// value (GitHub, Jira, Slack, Zoom, Shopify, Linear, Twilio) is a [`GenericHmac`]
/// preset, so one parser serves them all; only the formats that differ in kind have
/// code of their own.
enum Layout<'a> {
    /// `<prefix>-id`, `<prefix>-timestamp`, `<prefix>-signature: v1,<b64> v1a,<b64>`.
    Standard { svix_names: bool },
    /// `Stripe-Signature: t=<ts>,v1=<hex>,...`.
    Stripe,
    /// `X-Signature-Ed25519: <hex>`, `X-Signature-Timestamp: <ts>`.
    Discord,
    /// One signature header, optional timestamp and id headers, a template.
    Headers(&'a GenericHmac),
}

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

    fn layout(&self) -> Layout<'_> {
        match self {
            Self::StandardWebhooks => Layout::Standard { svix_names: false },
            Self::Svix => Layout::Standard { svix_names: true },
            Self::Stripe => Layout::Stripe,
            Self::Discord => Layout::Discord,
            Self::GitHub => Layout::Headers(&GITHUB),
            Self::Jira => Layout::Headers(&JIRA),
            Self::Slack => Layout::Headers(&SLACK),
            Self::Zoom => Layout::Headers(&ZOOM),
            Self::Shopify => Layout::Headers(&SHOPIFY),
            Self::Linear => Layout::Headers(&LINEAR),
            Self::Twilio => Layout::Headers(&TWILIO),
            Self::Generic(generic) => Layout::Headers(generic),
        }
    }

    /// Whether the scheme carries a signed timestamp (in a header, or Linear's body).
    pub fn has_timestamp(&self) -> bool {
        self.timestamp_in_header() || self.timestamp_in_body()
    }

    /// Whether the timestamp travels in a header (and so must be given to sign).
    pub(crate) fn timestamp_in_header(&self) -> bool {
        match self.layout() {
            Layout::Standard { .. } | Layout::Stripe | Layout::Discord => true,
            Layout::Headers(format) => format.timestamp_header.is_some(),
        }
    }

    /// Linear signs its timestamp inside the JSON body (`webhookTimestamp`, in ms).
    pub(crate) fn timestamp_in_body(&self) -> bool {
        matches!(self, Self::Linear)
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

    /// The HMAC the scheme signs with, if any (Discord only signs with Ed25519).
    pub(crate) fn hmac_algorithm(&self) -> Option<HmacAlgorithm> {
        match self.layout() {
            Layout::Standard { .. } | Layout::Stripe => Some(HmacAlgorithm::Sha256),
            Layout::Discord => None,
            Layout::Headers(format) => Some(format.algorithm),
        }
    }

    /// Whether the scheme takes Ed25519 signatures (Standard Webhooks `v1a`, Discord).
    pub(crate) fn takes_ed25519(&self) -> bool {
        matches!(self.layout(), Layout::Standard { .. } | Layout::Discord)
    }

    /// A key of this kind suits the scheme, or a configuration error that says which
    /// kind it needs. `verb` is "verifies" or "signs".
    pub(crate) fn check_key(&self, ed25519: bool, verb: &str) -> Result<(), Error> {
        if ed25519 && !self.takes_ed25519() {
            Err(Error::config(format!(
                "the {self} scheme {verb} with an HMAC secret, not an Ed25519 key"
            )))
        } else if !ed25519 && self.hmac_algorithm().is_none() {
            Err(Error::config(format!(
                "the {self} scheme {verb} with an Ed25519 key, not an HMAC secret"
            )))
        } else {
            Ok(())
        }
    }

    fn template(&self) -> &[Segment] {
        match self.layout() {
            Layout::Standard { .. } => STANDARD_TEMPLATE,
            Layout::Stripe => STRIPE_TEMPLATE,
            Layout::Discord => DISCORD_TEMPLATE,
            Layout::Headers(format) => &format.template,
        }
    }

    /// Whether the message id is part of the signed bytes (only then can it be trusted).
    pub(crate) fn signs_id(&self) -> bool {
        self.template().contains(&Segment::Id)
    }

    /// Reads the scheme's headers: signatures, timestamp, message id.
    pub(crate) fn parse<'a>(&'a self, headers: &'a HeaderMap) -> Result<Parsed<'a>, Rejection> {
        let mut parsed = Parsed::default();
        match self.layout() {
            Layout::Standard { .. } => parse_standard(headers, &mut parsed)?,
            Layout::Stripe => parse_stripe(required(headers, &STRIPE_SIGNATURE)?, &mut parsed)?,
            Layout::Discord => {
                let signature = required(headers, &DISCORD_SIGNATURE)?;
                parsed.timestamp = Some(Timestamp::parse(
                    required(headers, &DISCORD_TIMESTAMP)?,
                    &DISCORD_TIMESTAMP,
                )?);
                parsed.add(decode(Encoding::Hex, signature, 64), Kind::Ed25519);
            }
            Layout::Headers(format) => format.parse(headers, &mut parsed)?,
        }
        Ok(parsed)
    }

    /// The signed bytes, as a list of pieces to feed the MAC or signature in order.
    pub(crate) fn content<'a>(
        &'a self,
        input: &Inputs<'a>,
    ) -> Result<Vec<Cow<'a, [u8]>>, Rejection> {
        if self.needs_url() {
            let params = twilio_params(input.body)?;
            return Ok(vec![twilio_content(input.url, &params).into()]);
        }
        Ok(self
            .template()
            .iter()
            .map(|segment| match segment {
                Segment::Literal(text) => Cow::Borrowed(text.as_ref()),
                Segment::Body => input.body.into(),
                // Both are present whenever the template names them: parsing requires
                // their headers, and signing requires them before it gets here.
                Segment::Timestamp => input.timestamp.unwrap_or_default().into(),
                Segment::Id => input.id.unwrap_or_default().into(),
            })
            .collect())
    }

    /// Every form of the signed bytes a valid delivery may have been signed over: one,
    /// except for Twilio, whose validators accept the URL with and without its port
    /// (Twilio has signed both). The first is the canonical one (the replay key).
    pub(crate) fn contents_to_verify<'a>(
        &'a self,
        input: &Inputs<'a>,
    ) -> Result<Vec<Vec<Cow<'a, [u8]>>>, Rejection> {
        if !self.needs_url() {
            return Ok(vec![self.content(input)?]);
        }
        let params = twilio_params(input.body)?;
        Ok(twilio_urls(input.url)
            .iter()
            .map(|url| vec![twilio_content(url, &params).into()])
            .collect())
    }

    /// The headers a signed delivery carries, given the signature.
    pub(crate) fn signed_headers(
        &self,
        input: &Inputs<'_>,
        signature: &[u8],
        ed25519: bool,
    ) -> Vec<(HeaderName, Vec<u8>)> {
        let ts = input.timestamp.unwrap_or_default().to_vec();
        let id = input.id.unwrap_or_default().to_vec();
        let hex = || hex::encode(signature).into_bytes();
        let b64 = || STANDARD.encode(signature).into_bytes();
        match self.layout() {
            Layout::Standard { svix_names } => {
                let [id_name, ts_name, sig_name] = if svix_names {
                    SVIX_NAMES
                } else {
                    WEBHOOK_NAMES
                };
                let version: &[u8] = if ed25519 { b"v1a," } else { b"v1," };
                vec![
                    (id_name, id),
                    (ts_name, ts),
                    (sig_name, [version, &b64()].concat()),
                ]
            }
            Layout::Stripe => vec![(
                STRIPE_SIGNATURE,
                [b"t=".as_slice(), &ts, b",v1=", &hex()].concat(),
            )],
            Layout::Discord => vec![(DISCORD_SIGNATURE, hex()), (DISCORD_TIMESTAMP, ts)],
            Layout::Headers(format) => {
                let mut headers = Vec::with_capacity(3);
                if let Some(name) = &format.id_header {
                    headers.push((name.clone(), id));
                }
                if let Some(name) = &format.timestamp_header {
                    headers.push((name.clone(), ts));
                }
                let encoded = match format.encoding {
                    Encoding::Hex => hex(),
                    Encoding::Base64 => b64(),
                };
                headers.push((
                    format.signature_header.clone(),
                    [format.prefix.as_ref(), &encoded].concat(),
                ));
                headers
            }
        }
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

const WEBHOOK_NAMES: [HeaderName; 3] = [
    HeaderName::from_static("webhook-id"),
    HeaderName::from_static("webhook-timestamp"),
    HeaderName::from_static("webhook-signature"),
];
const SVIX_NAMES: [HeaderName; 3] = [
    HeaderName::from_static("svix-id"),
    HeaderName::from_static("svix-timestamp"),
    HeaderName::from_static("svix-signature"),
];
const STRIPE_SIGNATURE: HeaderName = HeaderName::from_static("stripe-signature");
const DISCORD_SIGNATURE: HeaderName = HeaderName::from_static("x-signature-ed25519");
const DISCORD_TIMESTAMP: HeaderName = HeaderName::from_static("x-signature-timestamp");

const DOT: Segment = Segment::Literal(Cow::Borrowed(b"."));
const STANDARD_TEMPLATE: &[Segment] = &[Segment::Id, DOT, Segment::Timestamp, DOT, Segment::Body];
const STRIPE_TEMPLATE: &[Segment] = &[Segment::Timestamp, DOT, Segment::Body];
/// Timestamp and body with nothing between: digits could move between them, but any
/// move multiplies or divides the timestamp by ten, far outside every window.
const DISCORD_TEMPLATE: &[Segment] = &[Segment::Timestamp, Segment::Body];
const V0_TEMPLATE: &[Segment] = &[
    Segment::Literal(Cow::Borrowed(b"v0:")),
    Segment::Timestamp,
    Segment::Literal(Cow::Borrowed(b":")),
    Segment::Body,
];
const BODY_TEMPLATE: &[Segment] = &[Segment::Body];

static GITHUB: GenericHmac = GenericHmac::preset(
    "x-hub-signature-256",
    b"sha256=",
    Encoding::Hex,
    HmacAlgorithm::Sha256,
    None,
    BODY_TEMPLATE,
);
static JIRA: GenericHmac = GenericHmac::preset(
    "x-hub-signature",
    b"sha256=",
    Encoding::Hex,
    HmacAlgorithm::Sha256,
    None,
    BODY_TEMPLATE,
);
static SLACK: GenericHmac = GenericHmac::preset(
    "x-slack-signature",
    b"v0=",
    Encoding::Hex,
    HmacAlgorithm::Sha256,
    Some(HeaderName::from_static("x-slack-request-timestamp")),
    V0_TEMPLATE,
);
static ZOOM: GenericHmac = GenericHmac::preset(
    "x-zm-signature",
    b"v0=",
    Encoding::Hex,
    HmacAlgorithm::Sha256,
    Some(HeaderName::from_static("x-zm-request-timestamp")),
    V0_TEMPLATE,
);
static SHOPIFY: GenericHmac = GenericHmac::preset(
    "x-shopify-hmac-sha256",
    b"",
    Encoding::Base64,
    HmacAlgorithm::Sha256,
    None,
    BODY_TEMPLATE,
);
static LINEAR: GenericHmac = GenericHmac::preset(
    "linear-signature",
    b"",
    Encoding::Hex,
    HmacAlgorithm::Sha256,
    None,
    BODY_TEMPLATE,
);
/// Twilio's signed bytes are the URL and the form parameters (see `twilio_content`);
/// only the header format comes from here.
static TWILIO: GenericHmac = GenericHmac::preset(
    "x-twilio-signature",
    b"",
    Encoding::Base64,
    HmacAlgorithm::Sha1,
    None,
    BODY_TEMPLATE,
);

/// At most this many signature entries are read from one header (Standard Webhooks'
/// space-separated list; Stripe's items other than `t=`): a header with more is
/// malformed. Each costs a MAC comparison or an Ed25519 verification per secret, and no
/// sender needs more during a rotation.
pub(crate) const MAX_SIGNATURES: usize = 8;

/// The largest timestamp a header may carry: 18 decimal digits.
pub(crate) const MAX_TIMESTAMP: i64 = 999_999_999_999_999_999;

/// Message ids are at most this long.
pub(crate) const MAX_ID_LEN: usize = 256;

/// The bytes a message id may hold: letters, digits, `_` and `-` (what Standard
/// Webhooks and Svix senders use). Nothing that a template separator is made of, so
/// bytes cannot move between a signed id and its neighbours.
pub(crate) fn is_id_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-'
}

/// A valid message id: 1 to [`MAX_ID_LEN`] bytes, each [`is_id_byte`].
pub(crate) fn is_message_id(id: &[u8]) -> bool {
    !id.is_empty() && id.len() <= MAX_ID_LEN && id.iter().all(|&b| is_id_byte(b))
}

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

/// A configurable HMAC scheme: signature header, prefix, encoding, hash function,
/// optional timestamp and id headers, and the template of the signed bytes.
///
/// The template is literal text with the placeholders `{body}` (exactly once),
/// `{timestamp}` and `{id}` (at most once each, and each if and only if its header is
/// configured); `{{` and `}}` stand for literal braces. Two placeholders must be
/// separated by literal text holding a character that no id or timestamp can contain
/// (anything but letters, digits, `_` and `-`), so that no byte can move from one
/// signed field to the next. Message ids are 1 to 256 letters, digits, `_` or `-`.
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
///
/// // `{id}{body}` would let bytes move between the id and the body.
/// let ambiguous = GenericHmac::builder("x-acme-signature")
///     .id_header("x-acme-id")
///     .template("{id}{body}")
///     .build();
/// assert!(ambiguous.is_err());
/// # Ok::<(), webhook_verify::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenericHmac {
    signature_header: HeaderName,
    prefix: Cow<'static, [u8]>,
    encoding: Encoding,
    algorithm: HmacAlgorithm,
    timestamp_header: Option<HeaderName>,
    id_header: Option<HeaderName>,
    template: Cow<'static, [Segment]>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(Cow<'static, [u8]>),
    Body,
    Timestamp,
    Id,
}

impl Segment {
    fn placeholder(&self) -> &'static str {
        match self {
            Self::Literal(_) => "literal text",
            Self::Body => "{body}",
            Self::Timestamp => "{timestamp}",
            Self::Id => "{id}",
        }
    }
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

    /// A built-in scheme's format: `header: <prefix><encoded signature>`.
    const fn preset(
        header: &'static str,
        prefix: &'static [u8],
        encoding: Encoding,
        algorithm: HmacAlgorithm,
        timestamp_header: Option<HeaderName>,
        template: &'static [Segment],
    ) -> Self {
        Self {
            signature_header: HeaderName::from_static(header),
            prefix: Cow::Borrowed(prefix),
            encoding,
            algorithm,
            timestamp_header,
            id_header: None,
            template: Cow::Borrowed(template),
        }
    }

    fn parse<'a>(
        &'a self,
        headers: &'a HeaderMap,
        parsed: &mut Parsed<'a>,
    ) -> Result<(), Rejection> {
        let value = required(headers, &self.signature_header)?;
        let encoded = value
            .strip_prefix(self.prefix.as_ref())
            .ok_or_else(|| Rejection::MalformedHeader(self.signature_header.clone()))?;
        if let Some(name) = &self.timestamp_header {
            parsed.timestamp = Some(Timestamp::parse(required(headers, name)?, name)?);
        }
        if let Some(name) = &self.id_header {
            parsed.id = Some(message_id(required(headers, name)?, name)?);
        }
        parsed.add(
            decode(self.encoding, encoded, self.algorithm.tag_len()),
            Kind::Hmac,
        );
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
    /// verifier's window, and must appear in the template as `{timestamp}`.
    pub fn timestamp_header(mut self, name: impl Into<String>) -> Self {
        self.timestamp_header = Some(name.into());
        self
    }

    /// The header carrying a message id; it must appear in the template as `{id}`, and
    /// the signed id keys the replay guard and is [`Verified::id`](crate::Verified::id).
    pub fn id_header(mut self, name: impl Into<String>) -> Self {
        self.id_header = Some(name.into());
        self
    }

    /// The signed bytes: literal text with `{body}`, `{timestamp}` and `{id}`; `{{` and
    /// `}}` for literal braces. Default: `{body}`.
    pub fn template(mut self, template: impl Into<String>) -> Self {
        self.template = template.into();
        self
    }

    /// Checks the configuration.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for an invalid header name, a prefix that cannot be part of a
    /// header value, a template without exactly one `{body}`, an unknown or repeated
    /// placeholder, a placeholder whose header is not set or a header whose placeholder
    /// is missing, or two placeholders not separated as the type's docs say.
    pub fn build(self) -> Result<GenericHmac, Error> {
        let header = |name: &str| {
            HeaderName::from_bytes(name.trim().as_bytes())
                .map_err(|_| Error::config(format!("{name:?} is not a valid header name")))
        };
        let signature_header = header(&self.signature_header)?;
        let timestamp_header = self.timestamp_header.as_deref().map(header).transpose()?;
        let id_header = self.id_header.as_deref().map(header).transpose()?;
        if !self.prefix.bytes().all(|b| (0x20..0x7f).contains(&b)) {
            return Err(Error::config(
                "the prefix must be printable ASCII, as header values are",
            ));
        }
        let template = parse_template(&self.template)?;
        let count = |wanted: &Segment| template.iter().filter(|s| *s == wanted).count();
        if count(&Segment::Body) != 1 {
            return Err(Error::config(
                "the template must contain {body} exactly once",
            ));
        }
        for (placeholder, header, setter) in [
            (Segment::Timestamp, &timestamp_header, "timestamp_header"),
            (Segment::Id, &id_header, "id_header"),
        ] {
            let name = placeholder.placeholder();
            match (count(&placeholder), header.is_some()) {
                (0, false) | (1, true) => {}
                (0, true) => {
                    return Err(Error::config(format!(
                        "{setter} is set but the template does not sign {name}: an unsigned header can be changed by anyone"
                    )));
                }
                (1, false) => {
                    return Err(Error::config(format!(
                        "the template uses {name}: set {setter}"
                    )));
                }
                _ => {
                    return Err(Error::config(format!(
                        "the template may contain {name} only once"
                    )));
                }
            }
        }
        check_separators(&template)?;
        Ok(GenericHmac {
            signature_header,
            prefix: Cow::Owned(self.prefix.into_bytes()),
            encoding: self.encoding,
            algorithm: self.algorithm,
            timestamp_header,
            id_header,
            template: Cow::Owned(template),
        })
    }
}

/// Literal text and placeholders; `{{` and `}}` are literal braces.
fn parse_template(template: &str) -> Result<Vec<Segment>, Error> {
    let mut segments = Vec::new();
    let mut literal = Vec::new();
    let mut rest = template;
    while let Some(brace) = rest.find(['{', '}']) {
        literal.extend_from_slice(&rest.as_bytes()[..brace]);
        let after = &rest[brace..];
        if after.starts_with("{{") || after.starts_with("}}") {
            literal.push(after.as_bytes()[0]);
            rest = &after[2..];
            continue;
        }
        if after.starts_with('}') {
            return Err(Error::config(
                "unmatched } in the template: write }} for a literal }",
            ));
        }
        let close = after
            .find('}')
            .ok_or_else(|| Error::config("unclosed { in the template: write {{ for a literal {"))?;
        let placeholder = match &after[..=close] {
            "{body}" => Segment::Body,
            "{timestamp}" => Segment::Timestamp,
            "{id}" => Segment::Id,
            other => {
                return Err(Error::config(format!(
                    "unknown placeholder {other} in the template: use {{body}}, {{timestamp}} or {{id}} ({{{{ and }}}} for literal braces)"
                )));
            }
        };
        if !literal.is_empty() {
            segments.push(Segment::Literal(Cow::Owned(std::mem::take(&mut literal))));
        }
        segments.push(placeholder);
        rest = &after[close + 1..];
    }
    literal.extend_from_slice(rest.as_bytes());
    if !literal.is_empty() {
        segments.push(Segment::Literal(Cow::Owned(literal)));
    }
    Ok(segments)
}

/// Between two placeholders there must be a literal with a byte that neither an id nor
/// a timestamp can hold: then each field ends at a point the signed bytes fix, and no
/// byte can move from the body into an id (or back) with the signature still valid.
fn check_separators(template: &[Segment]) -> Result<(), Error> {
    let mut previous: Option<&Segment> = None;
    let mut separated = true;
    for segment in template {
        match segment {
            Segment::Literal(text) => {
                separated |= text.iter().any(|&b| !is_id_byte(b));
            }
            placeholder => {
                if let (Some(previous), false) = (previous, separated) {
                    return Err(Error::config(format!(
                        "{} and {} must be separated by literal text with a character other than letters, digits, _ and - (such as . or :), or bytes could move between them",
                        previous.placeholder(),
                        placeholder.placeholder()
                    )));
                }
                previous = Some(placeholder);
                separated = false;
            }
        }
    }
    Ok(())
}

/// What the headers say: candidate signatures, timestamp, id.
#[derive(Default)]
pub(crate) struct Parsed<'a> {
    pub(crate) candidates: Vec<Candidate>,
    pub(crate) timestamp: Option<Timestamp<'a>>,
    /// Set only by schemes that sign the id, and only to a valid [`is_message_id`].
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

/// A decoded signature.
pub(crate) struct Candidate {
    pub(crate) kind: Kind,
    pub(crate) tag: Tag,
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

/// The inputs of the signed content. `url` is empty for schemes that do not sign one.
pub(crate) struct Inputs<'a> {
    pub(crate) id: Option<&'a [u8]>,
    pub(crate) timestamp: Option<&'a [u8]>,
    pub(crate) body: &'a [u8],
    pub(crate) url: &'a str,
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

fn message_id<'a>(value: &'a [u8], name: &HeaderName) -> Result<&'a [u8], Rejection> {
    if is_message_id(value) {
        Ok(value)
    } else {
        Err(Rejection::MalformedHeader(name.clone()))
    }
}

fn parse_standard<'a>(headers: &'a HeaderMap, parsed: &mut Parsed<'a>) -> Result<(), Rejection> {
    // Svix's names only when no `webhook-signature` is there and some `svix-*` header
    // is, so a missing header is reported by its real name.
    let [_, _, webhook_signature] = &WEBHOOK_NAMES;
    let svix = !headers.contains_key(webhook_signature)
        && SVIX_NAMES.iter().any(|name| headers.contains_key(name));
    let [id, timestamp, signature] = if svix { SVIX_NAMES } else { WEBHOOK_NAMES };
    let value = required(headers, &signature)?;
    parsed.id = Some(message_id(required(headers, &id)?, &id)?);
    parsed.timestamp = Some(Timestamp::parse(
        required(headers, &timestamp)?,
        &timestamp,
    )?);
    let entries = value
        .split(|&b| b == b' ')
        .filter(|entry| !entry.is_empty());
    for (count, entry) in entries.enumerate() {
        if count == MAX_SIGNATURES {
            return Err(Rejection::MalformedHeader(signature));
        }
        let Some((version, encoded)) = split_once(entry, b',') else {
            parsed
                .first_error
                .get_or_insert(Rejection::MalformedHeader(signature.clone()));
            continue;
        };
        match version {
            b"v1" => parsed.add(decode(Encoding::Base64, encoded, 32), Kind::Hmac),
            b"v1a" => parsed.add(decode(Encoding::Base64, encoded, 64), Kind::Ed25519),
            _ => {}
        }
    }
    Ok(())
}

fn parse_stripe<'a>(value: &'a [u8], parsed: &mut Parsed<'a>) -> Result<(), Rejection> {
    let malformed = || Rejection::MalformedHeader(STRIPE_SIGNATURE);
    let mut timestamp = None;
    let mut signatures = 0;
    for item in value.split(|&b| b == b',') {
        let (key, val) = split_once(item, b'=').ok_or_else(malformed)?;
        if key == b"t" {
            if timestamp.is_some() {
                return Err(malformed());
            }
            timestamp = Some(Timestamp::parse(val, &STRIPE_SIGNATURE)?);
            continue;
        }
        signatures += 1;
        if signatures > MAX_SIGNATURES {
            return Err(malformed());
        }
        if key == b"v1" {
            parsed.add(decode(Encoding::Hex, val, 32), Kind::Hmac);
        }
    }
    parsed.timestamp = Some(timestamp.ok_or_else(malformed)?);
    Ok(())
}

fn split_once(bytes: &[u8], separator: u8) -> Option<(&[u8], &[u8])> {
    let at = bytes.iter().position(|&b| b == separator)?;
    Some((&bytes[..at], &bytes[at + 1..]))
}

/// A signature of exactly `len` bytes in `encoding`; says whether it was empty, not in
/// the encoding, or the wrong length.
fn decode(encoding: Encoding, text: &[u8], len: usize) -> Result<Tag, Rejection> {
    if text.is_empty() {
        return Err(Rejection::EmptySignature);
    }
    let mut tag = Tag::zeroed(len);
    match encoding {
        Encoding::Hex => {
            if !text.iter().all(u8::is_ascii_hexdigit) {
                return Err(Rejection::SignatureEncoding);
            }
            if text.len() != 2 * len {
                return Err(Rejection::SignatureLength);
            }
            hex::decode_to_slice(text, tag.as_mut()).map_err(|_| Rejection::SignatureEncoding)?;
        }
        Encoding::Base64 => {
            // Canonical padded base64 of `len` bytes is exactly this long; anything else
            // is the wrong length (or not base64, which the decoder reports below).
            if text.len() != len.div_ceil(3) * 4 {
                let alphabet =
                    |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=');
                return Err(if text.iter().all(alphabet) {
                    Rejection::SignatureLength
                } else {
                    Rejection::SignatureEncoding
                });
            }
            let mut buffer = [0u8; 66];
            let written = STANDARD
                .decode_slice(text, &mut buffer)
                .map_err(|_| Rejection::SignatureEncoding)?;
            if written != len {
                return Err(Rejection::SignatureLength);
            }
            tag.as_mut().copy_from_slice(&buffer[..len]);
        }
    }
    Ok(tag)
}

/// Twilio's form parameters, decoded, sorted by name then value, each distinct
/// (name, value) pair once: what Twilio's own validators sign.
fn twilio_params(body: &[u8]) -> Result<Vec<(String, String)>, Rejection> {
    let mut params = parse_form(body)?;
    params.sort();
    params.dedup();
    Ok(params)
}

/// Twilio's signed bytes: the URL, then each parameter's name followed by its value.
fn twilio_content(url: &str, params: &[(String, String)]) -> Vec<u8> {
    let len = url.len() + params.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>();
    let mut content = Vec::with_capacity(len);
    content.extend_from_slice(url.as_bytes());
    for (name, value) in params {
        content.extend_from_slice(name.as_bytes());
        content.extend_from_slice(value.as_bytes());
    }
    content
}

/// The URL without its port, then with its port (`:443` for `https`, `:80` for `http`
/// when none is given): the two forms Twilio's validators try, as Twilio has signed
/// either. Other URLs are only tried as they are.
fn twilio_urls(url: &str) -> Vec<Cow<'_, str>> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return vec![url.into()];
    };
    let default_port = if scheme.eq_ignore_ascii_case("https") {
        "443"
    } else if scheme.eq_ignore_ascii_case("http") {
        "80"
    } else {
        return vec![url.into()];
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let host_start = authority.rfind('@').map_or(0, |at| at + 1);
    // The port follows the last colon, unless that colon is inside an IPv6 literal.
    let port = authority[host_start..].rfind(':').and_then(|colon| {
        let digits = &authority[host_start + colon + 1..];
        (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
            .then_some(host_start + colon)
    });
    match port {
        Some(colon) => vec![
            format!("{scheme}://{}{tail}", &authority[..colon]).into(),
            url.into(),
        ],
        None => vec![
            url.into(),
            format!("{scheme}://{authority}:{default_port}{tail}").into(),
        ],
    }
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
            let (name, value) = split_once(pair, b'=').unwrap_or((pair, &b""[..]));
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
        let name = HeaderName::from_static("webhook-timestamp");
        assert_eq!(
            Timestamp::parse(b"1614265330", &name).map(|t| t.unix).ok(),
            Some(1_614_265_330)
        );
        assert_eq!(Timestamp::parse(b"0", &name).map(|t| t.unix).ok(), Some(0));
        assert_eq!(
            Timestamp::parse(MAX_TIMESTAMP.to_string().as_bytes(), &name)
                .map(|t| t.unix)
                .ok(),
            Some(MAX_TIMESTAMP)
        );
        for bad in [
            &b""[..],
            b"-5",
            b"+5",
            b"0123",
            b" 12",
            b"12a",
            b"1000000000000000000",
            b"9999999999999999999",
        ] {
            assert!(Timestamp::parse(bad, &name).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn hex_and_base64_report_what_is_wrong() {
        let hex = |text: &[u8]| decode(Encoding::Hex, text, 32);
        let b64 = |text: &[u8]| decode(Encoding::Base64, text, 32);
        assert_eq!(hex(b"").err(), Some(Rejection::EmptySignature));
        assert_eq!(hex(b"zz").err(), Some(Rejection::SignatureEncoding));
        assert_eq!(hex(b"abcd").err(), Some(Rejection::SignatureLength));
        assert_eq!(hex(&[b'A'; 64]).map(|t| t.as_slice()[0]).ok(), Some(0xaa));
        assert_eq!(b64(b"").err(), Some(Rejection::EmptySignature));
        assert_eq!(b64(b"AAAA").err(), Some(Rejection::SignatureLength));
        assert_eq!(b64(b"!!!!").err(), Some(Rejection::SignatureEncoding));
        let ok = STANDARD.encode([7u8; 32]);
        assert_eq!(b64(ok.as_bytes()).map(|t| t.as_slice()[0]).ok(), Some(7));
        // Right length, but non-canonical trailing bits are refused by the decoder.
        let mut bent = ok.into_bytes();
        bent[42] = b'B';
        assert_eq!(b64(&bent).err(), Some(Rejection::SignatureEncoding));
    }

    #[test]
    fn templates_parse_into_segments_with_escaped_braces() {
        let lit = |text: &[u8]| Segment::Literal(Cow::Owned(text.to_vec()));
        assert_eq!(
            parse_template("v0:{timestamp}:{body}").unwrap(),
            [lit(b"v0:"), Segment::Timestamp, lit(b":"), Segment::Body]
        );
        assert_eq!(
            parse_template("{{\"ts\":{timestamp}}}.{body}").unwrap(),
            [
                lit(b"{\"ts\":"),
                Segment::Timestamp,
                lit(b"}."),
                Segment::Body
            ]
        );
        for bad in ["{nope}", "{body", "body}", "{ body}"] {
            assert!(parse_template(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn placeholders_need_a_separator_no_field_can_hold() {
        let check = |template: &str| check_separators(&parse_template(template).unwrap());
        for good in [
            "{id}.{timestamp}.{body}",
            "{id}x.{body}",
            "{body}|{id}",
            "v0:{timestamp}:{body}",
            "{body}",
        ] {
            assert!(check(good).is_ok(), "{good}");
        }
        for bad in [
            "{id}{body}",
            "{timestamp}{id}",
            "{id}_{body}",
            "{body}-{timestamp}",
        ] {
            assert!(check(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn message_ids_are_letters_digits_underscores_and_dashes() {
        assert!(is_message_id(b"msg_p5jXN8AQM9LWM0D4loKWxJek"));
        assert!(is_message_id(b"5e4b1c2a-0f3d-4c55-9b1e-7d2f8a9c0b1d"));
        assert!(is_message_id(&[b'a'; MAX_ID_LEN]));
        for bad in [
            &b""[..],
            b"msg.1",
            b"msg 1",
            b"msg:1",
            b"\xff",
            &[b'a'; MAX_ID_LEN + 1],
        ] {
            assert!(!is_message_id(bad), "{bad:?}");
        }
    }

    #[test]
    fn form_bodies_decode_and_twilio_sorts_them() {
        let params = parse_form(b"To=%2B1555&Body=hi+there&Empty=&Flag").unwrap();
        assert_eq!(params[0], ("To".to_owned(), "+1555".to_owned()));
        assert_eq!(params[1], ("Body".to_owned(), "hi there".to_owned()));
        assert_eq!(params[2], ("Empty".to_owned(), String::new()));
        assert_eq!(params[3], ("Flag".to_owned(), String::new()));
        let params = twilio_params(b"b=2&a=1&a=0&a=1").unwrap();
        assert_eq!(twilio_content("https://x/y", &params), b"https://x/ya0a1b2");
        assert_eq!(parse_form(b"a=%FF").err(), Some(Rejection::NonUtf8Body));
        assert_eq!(parse_form(b"a=\xff").err(), Some(Rejection::NonUtf8Body));
    }

    #[test]
    fn twilio_urls_are_tried_without_and_with_their_port() {
        let urls =
            |url| -> Vec<String> { twilio_urls(url).into_iter().map(Cow::into_owned).collect() };
        assert_eq!(
            urls("https://example.com/sms?x=1"),
            [
                "https://example.com/sms?x=1",
                "https://example.com:443/sms?x=1"
            ]
        );
        assert_eq!(
            urls("https://example.com:443/sms"),
            ["https://example.com/sms", "https://example.com:443/sms"]
        );
        assert_eq!(
            urls("http://example.com?x=1"),
            ["http://example.com?x=1", "http://example.com:80?x=1"]
        );
        assert_eq!(
            urls("https://[::1]:8443/a"),
            ["https://[::1]/a", "https://[::1]:8443/a"]
        );
        assert_eq!(
            urls("https://[::1]/a"),
            ["https://[::1]/a", "https://[::1]:443/a"]
        );
        assert_eq!(urls("ftp://example.com/a"), ["ftp://example.com/a"]);
        assert_eq!(urls("not a url"), ["not a url"]);
    }
}
