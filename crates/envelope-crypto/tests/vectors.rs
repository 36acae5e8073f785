//! The published envelope vectors in `tests/data/envelope-v1.txt`, checked two ways:
//! by this crate's API, and by an independent implementation of `FORMAT.md` built from
//! the RustCrypto primitives (HKDF, SHA-256) and the C2SP-checked XAES-256-GCM.
//!
//! `PALISADE_WRITE_VECTORS=1 cargo test -p envelope-crypto --test vectors` rewrites the
//! file from the inputs below (only when the format deliberately changes).

mod common;

use std::collections::BTreeMap;

use data_encoding::BASE64URL_NOPAD;
use envelope_crypto::dangerous::Xaes256Gcm;
use envelope_crypto::{Backend, Binding, Envelope, Keyring};
use hkdf::Hkdf;
use sha2::{Digest, Sha256};

const FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/envelope-v1.txt");

struct Input {
    name: &'static str,
    master_key: Vec<u8>,
    key_version: u32,
    purpose: &'static str,
    tenant: Option<&'static str>,
    record: Option<&'static str>,
    pairs: &'static [(&'static str, &'static str)],
    nonce: [u8; 24],
    plaintext: Vec<u8>,
}

fn inputs() -> Vec<Input> {
    vec![
        Input {
            name: "TOTP seed bound to a tenant and a user",
            master_key: (0u8..32).collect(),
            key_version: 1,
            purpose: "mfa.totp-seed",
            tenant: Some("acme"),
            record: Some("user:42"),
            pairs: &[],
            nonce: *b"ABCDEFGHIJKLMNOPQRSTUVWX",
            plaintext: b"JBSWY3DPEHPK3PXP".to_vec(),
        },
        Input {
            name: "empty plaintext, empty binding, key version 7",
            master_key: vec![0x42; 32],
            key_version: 7,
            purpose: "oauth.refresh-token",
            tenant: None,
            record: None,
            pairs: &[],
            nonce: [0; 24],
            plaintext: Vec::new(),
        },
        Input {
            name: "free pairs, empty tenant, 48-byte master key, 100-byte plaintext",
            master_key: (0u8..48).map(|i| i.wrapping_mul(37)).collect(),
            key_version: 300,
            purpose: "crm/api-key:v2",
            tenant: Some(""),
            record: None,
            pairs: &[
                ("table", "integrations"),
                ("column", "api_key"),
                ("env", "prod=eu"),
            ],
            nonce: core::array::from_fn(|i| 0xf0 ^ i.to_le_bytes()[0]),
            plaintext: (0u8..100).collect(),
        },
    ]
}

#[derive(Debug, Default)]
struct Vector {
    fields: BTreeMap<String, String>,
    pairs: Vec<(String, String)>,
}

impl Vector {
    fn get(&self, name: &str) -> &str {
        self.fields
            .get(name)
            .unwrap_or_else(|| panic!("vector without {name}"))
    }

    fn hex(&self, name: &str) -> Vec<u8> {
        hex::decode(self.get(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    fn binding(&self) -> Binding {
        let mut binding = Binding::new();
        if let Some(t) = self.fields.get("tenant") {
            binding = binding.tenant(t.clone());
        }
        if let Some(r) = self.fields.get("record") {
            binding = binding.record(r.clone());
        }
        for (k, v) in &self.pairs {
            binding = binding.pair(k.clone(), v.clone());
        }
        binding
    }
}

fn parse(text: &str) -> Vec<Vector> {
    let mut vectors = Vec::new();
    for block in text.split("\n\n") {
        let mut vector = Vector::default();
        for line in block
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            let (name, value) = line
                .split_once(": ")
                .unwrap_or((line.trim_end_matches(':'), ""));
            if name == "pair" {
                let (k, v) = value.split_once('=').expect("pair name=value");
                vector.pairs.push((k.to_owned(), v.to_owned()));
            } else {
                vector.fields.insert(name.to_owned(), value.to_owned());
            }
        }
        if !vector.fields.is_empty() {
            vectors.push(vector);
        }
    }
    vectors
}

fn put(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(
        &u32::try_from(bytes.len())
            .expect("fits in u32")
            .to_be_bytes(),
    );
    out.extend_from_slice(bytes);
}

/// FORMAT.md, "Binding": the associated data after the header.
fn independent_binding(v: &Vector) -> Vec<u8> {
    let mut out = Vec::new();
    put(&mut out, v.get("purpose").as_bytes());
    for field in ["tenant", "record"] {
        match v.fields.get(field) {
            None => out.push(0),
            Some(value) => {
                out.push(1);
                put(&mut out, value.as_bytes());
            }
        }
    }
    let mut pairs = v.pairs.clone();
    pairs.sort();
    out.extend_from_slice(
        &u32::try_from(pairs.len())
            .expect("fits in u32")
            .to_be_bytes(),
    );
    for (k, val) in &pairs {
        put(&mut out, k.as_bytes());
        put(&mut out, val.as_bytes());
    }
    out
}

struct Computed {
    purpose_key: Vec<u8>,
    commitment: Vec<u8>,
    aad: Vec<u8>,
    envelope: Vec<u8>,
}

/// FORMAT.md, "Keys" and "Sealing", without this crate's envelope code.
fn independent_seal(v: &Vector) -> Computed {
    let mut pk = [0u8; 96];
    let info = [b"envelope".as_slice(), &[0], v.get("purpose").as_bytes()].concat();
    Hkdf::<Sha256>::new(Some(b"palisade/envelope-crypto/v1"), &v.hex("master_key"))
        .expand(&info, &mut pk)
        .expect("HKDF length");
    let version: u32 = v.get("key_version").parse().expect("valid keyring");
    let mut header = vec![1u8, 1];
    header.extend_from_slice(&version.to_be_bytes());
    let nonce: [u8; 24] = v.hex("nonce").try_into().expect("fixed length");
    let commitment = Sha256::new()
        .chain_update(&pk[32..])
        .chain_update(&header)
        .chain_update(nonce)
        .finalize()
        .to_vec();
    let aad = [header.clone(), independent_binding(v)].concat();
    let ke: [u8; 32] = pk[..32].try_into().expect("fixed length");
    let sealed = Xaes256Gcm::new(&ke, Backend::RustCrypto)
        .encrypt(&nonce, &v.hex("plaintext"), &aad)
        .expect("encrypt");
    Computed {
        purpose_key: pk.to_vec(),
        commitment: commitment.clone(),
        aad,
        envelope: [header, nonce.to_vec(), commitment, sealed].concat(),
    }
}

fn library_keyring(v: &Vector) -> Keyring {
    let version: u32 = v.get("key_version").parse().expect("valid keyring");
    Keyring::parse(&common::keyring_text(&[(
        version,
        "primary",
        &v.hex("master_key"),
    )]))
    .expect("valid keyring")
}

fn library_seal(v: &Vector, backend: Backend) -> Envelope {
    library_keyring(v)
        .sealer(v.get("purpose"))
        .expect("store get")
        .with_backend(backend)
        .with_random(common::QueuedRandom::new(&v.hex("nonce")))
        .seal(&v.hex("plaintext"), &v.binding())
        .expect("seal")
}

#[test]
fn published_vectors_match_the_format_and_the_library() {
    if std::env::var("PALISADE_WRITE_VECTORS").is_ok_and(|v| v == "1") {
        write_vectors();
    }
    let text = std::fs::read_to_string(FILE).unwrap();
    let vectors = parse(&text);
    assert_eq!(vectors.len(), inputs().len());
    for v in &vectors {
        let name = v.get("name");
        let independent = independent_seal(v);
        assert_eq!(
            hex::encode(&independent.purpose_key),
            v.get("purpose_key"),
            "{name}"
        );
        assert_eq!(
            hex::encode(&independent.commitment),
            v.get("commitment"),
            "{name}"
        );
        assert_eq!(hex::encode(&independent.aad), v.get("aad"), "{name}");
        assert_eq!(
            hex::encode(&independent.envelope),
            v.get("envelope"),
            "{name}"
        );
        assert_eq!(
            format!("pal1.{}", BASE64URL_NOPAD.encode(&independent.envelope)),
            v.get("armor"),
            "{name}"
        );
        assert_eq!(
            independent.envelope.len(),
            v.hex("plaintext").len() + envelope_crypto::OVERHEAD
        );

        for &backend in Backend::all() {
            let sealed = library_seal(v, backend);
            assert_eq!(
                hex::encode(sealed.as_bytes()),
                v.get("envelope"),
                "{name} {backend}"
            );
            assert_eq!(sealed.to_armor(), v.get("armor"), "{name} {backend}");
            let sealer = library_keyring(v)
                .sealer(v.get("purpose"))
                .unwrap()
                .with_backend(backend);
            let armored = Envelope::from_armor(v.get("armor")).unwrap();
            let opened = sealer.open(&armored, &v.binding()).unwrap();
            assert_eq!(opened.as_bytes(), v.hex("plaintext"), "{name} {backend}");
            // The vector's own negative: one more pair, and it no longer opens.
            assert!(sealer.open(&armored, &v.binding().pair("x", "")).is_err());
        }
    }
}

fn write_vectors() {
    let mut out = String::from(
        "# envelope-crypto envelope format v1 vectors (see FORMAT.md).\n\
         # Hex unless noted; `purpose`, `tenant`, `record` and `pair name=value` are UTF-8;\n\
         # an absent `tenant` or `record` line means the field is absent.\n\
         # purpose_key = Ke || Kc; aad = header || binding; armor is the text form.\n",
    );
    for input in inputs() {
        let mut v = Vector::default();
        let mut set = |k: &str, val: String| {
            v.fields.insert(k.to_owned(), val);
        };
        set("name", input.name.to_owned());
        set("master_key", hex::encode(&input.master_key));
        set("key_version", input.key_version.to_string());
        set("purpose", input.purpose.to_owned());
        if let Some(t) = input.tenant {
            set("tenant", t.to_owned());
        }
        if let Some(r) = input.record {
            set("record", r.to_owned());
        }
        set("nonce", hex::encode(input.nonce));
        set("plaintext", hex::encode(&input.plaintext));
        v.pairs = input
            .pairs
            .iter()
            .map(|(k, val)| ((*k).to_owned(), (*val).to_owned()))
            .collect();
        let sealed = library_seal(&v, Backend::RustCrypto);
        let computed = independent_seal(&v);
        out.push('\n');
        for key in [
            "name",
            "master_key",
            "key_version",
            "purpose",
            "tenant",
            "record",
        ] {
            if let Some(value) = v.fields.get(key) {
                out.push_str(&format!("{key}: {value}\n").replace(": \n", ":\n"));
            }
        }
        for (k, val) in &v.pairs {
            out.push_str(&format!("pair: {k}={val}\n"));
        }
        out.push_str(&format!("nonce: {}\n", v.get("nonce")));
        out.push_str(&format!("plaintext: {}\n", v.get("plaintext")).replace(": \n", ":\n"));
        out.push_str(&format!(
            "purpose_key: {}\n",
            hex::encode(&computed.purpose_key)
        ));
        out.push_str(&format!(
            "commitment: {}\n",
            hex::encode(&computed.commitment)
        ));
        out.push_str(&format!("aad: {}\n", hex::encode(&computed.aad)));
        out.push_str(&format!("envelope: {}\n", hex::encode(sealed.as_bytes())));
        out.push_str(&format!("armor: {}\n", sealed.to_armor()));
    }
    std::fs::write(FILE, out).expect("write vectors");
}
