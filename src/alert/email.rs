//! E-mail through SMTP (lettre, with rustls).
//!
//! `url = "smtps://mail.example.com"` speaks TLS from the start (port 465 by default);
//! `url = "smtp://mail.example.com"` must upgrade with STARTTLS (port 587 by default), except to a
//! relay on this machine (loopback), where plain SMTP is accepted. With `openalgo_smtp = true`
//! the server, port, user, sender and HELO name come from OpenAlgo's own SMTP settings (the
//! `settings` row of `openalgo.db`), and so does the password, which OpenAlgo keeps encrypted
//! under its `API_KEY_PEPPER`: Warden decrypts it in memory when it can read OpenAlgo's `.env`,
//! and a `token_file` overrides it.

use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use lettre::message::{header::ContentType, Mailbox};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{Message as Mail, SmtpTransport, Transport};

use super::channel::{Message, Outcome};
use super::{scrub, AlertConfig, Secret};

/// How long one delivery may take.
const TIMEOUT: Duration = Duration::from_secs(20);

/// How the connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// TLS from the first byte (`smtps://`).
    Tls,
    /// STARTTLS, required.
    StartTls,
    /// STARTTLS when offered: only to a relay on this machine.
    LocalPlain,
}

/// Where and how to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    /// Host name or address.
    pub host: String,
    /// Port.
    pub port: u16,
    /// How the connection is secured.
    pub security: Security,
    /// The login, if any.
    pub username: Option<String>,
    /// The sender.
    pub from: String,
    /// The name given in EHLO.
    pub helo: String,
}

/// Parses `smtp://host[:port]` or `smtps://host[:port]`.
pub fn parse_url(url: &str) -> Result<(String, u16, Security), String> {
    let (rest, tls) = match (url.strip_prefix("smtps://"), url.strip_prefix("smtp://")) {
        (Some(r), _) => (r, true),
        (_, Some(r)) => (r, false),
        _ => return Err("must start with smtps:// (TLS) or smtp:// (STARTTLS)".into()),
    };
    let rest = rest.trim_end_matches('/');
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => {
            (h, p.parse::<u16>().map_err(|_| "has a port that is not a number".to_string())?)
        }
        _ => (rest, if tls { 465 } else { 587 }),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() || host.contains(['/', '@', ' ']) || port == 0 {
        return Err("is not a valid smtp:// or smtps:// address".into());
    }
    let loopback = host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    let security = match (tls, loopback) {
        (true, _) => Security::Tls,
        (false, true) => Security::LocalPlain,
        (false, false) => Security::StartTls,
    };
    Ok((host.to_string(), port, security))
}

/// Checks an e-mail address the way the message builder will.
pub fn check_address(a: &str) -> Result<(), String> {
    a.parse::<Mailbox>().map(|_| ()).map_err(|_| format!("'{}' is not an e-mail address", crate::ip::display_raw(a)))
}

/// OpenAlgo's SMTP settings: the first row of `settings` in `openalgo_db`, and its password
/// decrypted with the pepper in OpenAlgo's `.env` (the folder above `db/`).
pub fn openalgo_server(openalgo_db: &Path) -> Result<(Server, Option<Secret>), String> {
    let conn = rusqlite::Connection::open_with_flags(openalgo_db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| format!("cannot open {}: {e}", openalgo_db.display()))?;
    type Row =
        (Option<String>, Option<i64>, Option<String>, Option<String>, Option<bool>, Option<String>, Option<String>);
    let row: Row = conn
        .query_row(
            "SELECT smtp_server, smtp_port, smtp_username, smtp_password_encrypted, smtp_use_tls, smtp_from_email, \
             smtp_helo_hostname FROM settings ORDER BY id LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?)),
        )
        .map_err(|e| format!("OpenAlgo's SMTP settings cannot be read from {}: {e}", openalgo_db.display()))?;
    let (server, port, username, encrypted, use_tls, from, helo) = row;
    let host = server.filter(|s| !s.trim().is_empty()).ok_or_else(|| {
        "OpenAlgo has no SMTP server set up (Profile → SMTP in OpenAlgo); set url and the rest here instead".to_string()
    })?;
    let port = port.and_then(|p| u16::try_from(p).ok()).unwrap_or(587);
    let host = host.trim().to_string();
    let loopback = host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    let security = if port == 465 {
        Security::Tls
    } else if loopback {
        // A relay on this machine: STARTTLS when it offers it, as with smtp:// to loopback.
        Security::LocalPlain
    } else if use_tls.unwrap_or(true) {
        Security::StartTls
    } else {
        return Err(format!(
            "OpenAlgo's SMTP settings turn TLS off for {host}; Warden does not send a password in the clear \
             to another machine (turn TLS on in OpenAlgo, or set url here)"
        ));
    };
    let from = from.or_else(|| username.clone()).ok_or("OpenAlgo's SMTP settings have no sender address")?;
    let password = match encrypted.filter(|e| !e.is_empty()) {
        None => None,
        Some(token) => {
            let env_path = openalgo_db.parent().and_then(Path::parent).map(|d| d.join(".env"));
            let pepper = env_path
                .as_deref()
                .and_then(|p| std::fs::read(p).ok())
                .and_then(|b| crate::check::env::parse(&b).ok())
                .and_then(|env| env.get("API_KEY_PEPPER").map(String::from))
                .ok_or_else(|| {
                    "Warden cannot read OpenAlgo's .env to use its SMTP password; put the password in a 0600 \
                     file and name it in token_file"
                        .to_string()
                })?;
            Some(Secret::new(openalgo_password(&token, &pepper)?))
        }
    };
    let server = Server {
        host,
        port,
        security,
        username: username.filter(|u| !u.is_empty()),
        from,
        helo: helo.filter(|h| !h.is_empty()).unwrap_or_else(|| "warden".into()),
    };
    Ok((server, password))
}

/// Decrypts OpenAlgo's `smtp_password_encrypted`: a Fernet token under PBKDF2-HMAC-SHA256
/// (100 000 rounds, salt `smtp-openalgo-salt`) of the pepper, or, for values written by older
/// OpenAlgo versions, under the pepper itself cut or padded to 32 bytes.
pub fn openalgo_password(token: &str, pepper: &str) -> Result<String, String> {
    let mut strong = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(pepper.as_bytes(), b"smtp-openalgo-salt", 100_000, &mut strong);
    let legacy: Vec<u8> = {
        let mut p: Vec<u8> = pepper.chars().take(32).collect::<String>().into_bytes();
        while p.len() < 32 {
            p.push(b' ');
        }
        p.truncate(32);
        p
    };
    fernet_decrypt(token, &strong)
        .or_else(|| fernet_decrypt(token, &legacy))
        .ok_or_else(|| "OpenAlgo's SMTP password cannot be decrypted with the pepper in its .env".to_string())
}

/// Fernet: version 0x80, 8 bytes of time, 16 of IV, AES-128-CBC ciphertext, HMAC-SHA256 over all
/// of that; the key's first half signs, its second half encrypts.
fn fernet_decrypt(token: &str, key: &[u8]) -> Option<String> {
    use aes::cipher::{BlockDecryptMut, KeyIvInit};
    use base64::Engine;
    use hmac::Mac;
    let raw = base64::engine::general_purpose::URL_SAFE.decode(token.trim()).ok()?;
    if raw.len() < 1 + 8 + 16 + 16 + 32 || raw[0] != 0x80 || key.len() != 32 {
        return None;
    }
    let (body, tag) = raw.split_at(raw.len() - 32);
    let mut mac = <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(&key[..16]).ok()?;
    mac.update(body);
    mac.verify_slice(tag).ok()?;
    let iv = &body[9..25];
    let cipher = &body[25..];
    let dec = cbc::Decryptor::<aes::Aes128>::new_from_slices(&key[16..], iv).ok()?;
    let plain = dec.decrypt_padded_vec_mut::<aes::cipher::block_padding::Pkcs7>(cipher).ok()?;
    String::from_utf8(plain).ok()
}

/// The server and password in force for `cfg` (`openalgo_db` for `openalgo_smtp`).
pub fn server_of(cfg: &AlertConfig, secret: Option<Secret>) -> Result<(Server, Option<Secret>), String> {
    if cfg.openalgo_smtp {
        let db = cfg
            .openalgo_db
            .as_deref()
            .ok_or("openalgo_smtp needs openalgo.db, and Warden does not know where it is")?;
        let (mut server, password) = openalgo_server(db)?;
        if let Some(from) = &cfg.from {
            server.from = from.clone();
        }
        return Ok((server, secret.or(password)));
    }
    let url = cfg.url.as_deref().ok_or("an e-mail channel needs url = \"smtps://…\" or openalgo_smtp = true")?;
    let (host, port, security) = parse_url(url)?;
    let from = cfg.from.clone().or_else(|| cfg.username.clone()).ok_or("an e-mail channel needs from = \"…\"")?;
    Ok((Server { host, port, security, username: cfg.username.clone(), from, helo: "warden".into() }, secret))
}

/// Sends `msg` as an e-mail to `cfg.to`.
pub fn send(cfg: &AlertConfig, secret: Option<Secret>, msg: &Message) -> Outcome {
    let (server, password) = match server_of(cfg, secret) {
        Ok(s) => s,
        Err(e) => return Outcome::Refused(e),
    };
    let secrets: Vec<&Secret> = password.iter().collect();
    let built = build(&server, &cfg.to, msg);
    let mail = match built {
        Ok(m) => m,
        Err(e) => return Outcome::Refused(e),
    };
    let tls = || TlsParameters::new_rustls(server.host.clone());
    let security = match server.security {
        Security::Tls => tls().map(Tls::Wrapper),
        Security::StartTls => tls().map(Tls::Required),
        Security::LocalPlain => tls().map(Tls::Opportunistic),
    };
    let security = match security {
        Ok(s) => s,
        Err(e) => return Outcome::Refused(scrub(&format!("TLS cannot be set up for {}: {e}", server.host), &secrets)),
    };
    let mut transport = SmtpTransport::builder_dangerous(server.host.clone())
        .port(server.port)
        .tls(security)
        .timeout(Some(TIMEOUT))
        .hello_name(ClientId::Domain(server.helo.clone()));
    if let (Some(user), Some(pw)) = (&server.username, &password) {
        transport = transport.credentials(Credentials::new(user.clone(), pw.expose().to_string()));
    }
    match transport.build().send(&mail) {
        Ok(_) => Outcome::Delivered,
        Err(e) => {
            let words = scrub(&e.to_string(), &secrets);
            let why = format!("the mail server {} said: {words}", server.host);
            if e.is_permanent() {
                let hint = if e.status().is_some_and(|c| c.to_string().starts_with("53")) {
                    " Check the user and password."
                } else {
                    ""
                };
                Outcome::Refused(format!("{why}.{hint}"))
            } else {
                Outcome::Retry { after: None, why }
            }
        }
    }
}

fn build(server: &Server, to: &[String], msg: &Message) -> Result<Mail, String> {
    let from: Mailbox = server
        .from
        .parse()
        .map_err(|_| format!("the sender '{}' is not an e-mail address", crate::ip::display_raw(&server.from)))?;
    let mut b = Mail::builder().from(from).subject(format!("Warden: {}", msg.title));
    if to.is_empty() {
        return Err("an e-mail channel needs to = [\"you@example.com\"]".into());
    }
    for t in to {
        b = b.to(t.parse().map_err(|_| format!("'{}' is not an e-mail address", crate::ip::display_raw(t)))?);
    }
    b.header(ContentType::TEXT_PLAIN)
        .body(format!("{}\n\n{}\n\n-- \nWarden, watching your OpenAlgo server\n", msg.title, msg.body))
        .map_err(|e| format!("the e-mail cannot be built: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_say_how_the_connection_is_secured() {
        assert_eq!(parse_url("smtps://mail.example.com"), Ok(("mail.example.com".into(), 465, Security::Tls)));
        assert_eq!(
            parse_url("smtp://mail.example.com:2587"),
            Ok(("mail.example.com".into(), 2587, Security::StartTls))
        );
        assert_eq!(parse_url("smtp://127.0.0.1:2525"), Ok(("127.0.0.1".into(), 2525, Security::LocalPlain)));
        assert!(parse_url("http://x").is_err());
        assert!(parse_url("smtp://user@host").is_err());
        assert!(parse_url("smtp://host:x").is_err());
    }

    #[test]
    fn a_fernet_token_from_python_decrypts() {
        // Fernet's own specification test vector (github.com/fernet/spec, generate.json).
        let key = base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE,
            "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=",
        )
        .unwrap_or_default();
        let token =
            "gAAAAAAdwJ6wAAECAwQFBgcICQoLDA0ODy021cpGVWKZ_eEwCGM4BLLF_5CV9dOPmrhuVUPgJobwOz7JcbmrR64jVmpU4IwqDA==";
        assert_eq!(fernet_decrypt(token, &key).as_deref(), Some("hello"));
        let mut bad = key.clone();
        bad[0] ^= 1;
        assert_eq!(fernet_decrypt(token, &bad), None, "a wrong signing key is refused");
    }
}
