//! The LAPI's HTTP calls, each with a 10 s limit. Errors say in words what the LAPI answered; the
//! machine's password, its token and the bouncer key never appear in them.

use std::time::Duration;

use serde_json::{json, Value};

use super::Credentials;
use crate::alert::{scrub, Secret};
use crate::time::Timestamp;

/// How long one call may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Why a call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LapiError {
    /// The LAPI refused it (wrong password or key): trying again does not help until the
    /// configuration changes.
    Refused(String),
    /// The LAPI is down, unreachable or answered 5xx: tried again later.
    Down(String),
}

impl std::fmt::Display for LapiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LapiError::Refused(m) | LapiError::Down(m) => f.write_str(m),
        }
    }
}

/// One decision as the stream gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Its id in the LAPI.
    pub id: i64,
    /// `crowdsec`, `cscli`, `CAPI`, `lists`, `warden`…
    pub origin: String,
    /// The scenario (or `cscli`'s reason).
    pub scenario: String,
    /// `Ip`, `Range`, or something Warden does not enforce (`Country`, `AS`…).
    pub scope: String,
    /// `ban`, `captcha`…
    pub kind: String,
    /// The address or range.
    pub value: String,
    /// The time left, as a Go duration.
    pub duration: String,
}

/// One pull of the stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stream {
    /// Decisions added since the last pull (all active ones at start-up).
    pub new: Vec<Decision>,
    /// Decisions deleted or expired since the last pull (they repeat for about 2 s).
    pub deleted: Vec<Decision>,
    /// Entries that lacked a field and were skipped.
    pub malformed: usize,
}

/// One ban to push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushItem {
    /// `Ip` or `Range`, exactly (the stream never returns other spellings).
    pub scope: &'static str,
    /// The address or range, canonical.
    pub value: String,
    /// How long it lasts, in seconds.
    pub seconds: i64,
    /// `warden/openalgo-404`…
    pub scenario: String,
}

/// Parses the stream's answer: `null` lists are empty lists.
pub fn parse_stream(body: &str) -> Result<Stream, String> {
    let v: Value = serde_json::from_str(body).map_err(|e| format!("the LAPI's answer is not JSON: {e}"))?;
    let mut out = Stream::default();
    for (key, list) in [("new", &mut out.new), ("deleted", &mut out.deleted)] {
        match v.get(key) {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) => {
                for it in items {
                    let s = |k: &str| it.get(k).and_then(Value::as_str).map(String::from);
                    match (it.get("id").and_then(Value::as_i64), s("origin"), s("scope"), s("value"), s("duration")) {
                        (Some(id), Some(origin), Some(scope), Some(value), Some(duration)) => list.push(Decision {
                            id,
                            origin,
                            scenario: s("scenario").unwrap_or_default(),
                            scope,
                            kind: s("type").unwrap_or_else(|| "ban".into()),
                            value,
                            duration,
                        }),
                        _ => out.malformed += 1,
                    }
                }
            }
            Some(_) => return Err(format!("the LAPI's `{key}` is neither a list nor null")),
        }
    }
    Ok(out)
}

/// A client for one LAPI.
#[derive(Debug)]
pub struct Client {
    agent: ureq::Agent,
    url: String,
    creds: Option<Credentials>,
    key: Option<Secret>,
    token: Option<(Secret, Timestamp)>,
}

impl Client {
    /// A client for `url` with a machine's credentials and a bouncer key (each optional).
    pub fn new(url: &str, creds: Option<Credentials>, key: Option<Secret>) -> Self {
        let agent = crate::alert::channel::agent(TIMEOUT);
        Self { agent, url: url.trim_end_matches('/').to_string(), creds, key, token: None }
    }

    /// The LAPI's address.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn secrets(&self) -> Vec<&Secret> {
        let mut s: Vec<&Secret> = Vec::new();
        if let Some(c) = &self.creds {
            s.push(&c.password);
        }
        if let Some(k) = &self.key {
            s.push(k);
        }
        if let Some((t, _)) = &self.token {
            s.push(t);
        }
        s
    }

    fn said(body: &str) -> String {
        let m = serde_json::from_str::<Value>(body)
            .ok()
            .and_then(|v| v.get("message").and_then(Value::as_str).map(String::from))
            .unwrap_or_else(|| body.trim().to_string());
        crate::check::one_line(&m, 300)
    }

    fn call(
        &self,
        method: &str,
        path: &str,
        auth: Option<(&str, String)>,
        body: Option<&Value>,
    ) -> Result<(u16, String), LapiError> {
        let url = format!("{}{path}", self.url);
        let result = match (method, body) {
            ("POST", Some(b)) => {
                let mut r = self.agent.post(&url).header("Content-Type", "application/json");
                if let Some((k, v)) = &auth {
                    r = r.header(*k, v);
                }
                r.send(b.to_string().as_bytes())
            }
            ("DELETE", _) => {
                let mut r = self.agent.delete(&url);
                if let Some((k, v)) = &auth {
                    r = r.header(*k, v);
                }
                r.call()
            }
            _ => {
                let mut r = self.agent.get(&url);
                if let Some((k, v)) = &auth {
                    r = r.header(*k, v);
                }
                r.call()
            }
        };
        match result {
            Ok(mut resp) => {
                let status = resp.status().as_u16();
                let text = resp.body_mut().with_config().limit(64 << 20).read_to_string().unwrap_or_default();
                Ok((status, text))
            }
            Err(e) => {
                let why = match e {
                    ureq::Error::Timeout(_) => format!("the LAPI did not answer within {} s", TIMEOUT.as_secs()),
                    ureq::Error::Io(io) => format!("cannot reach the LAPI at {}: {}", self.url, io.kind()),
                    ureq::Error::ConnectionFailed => format!("cannot connect to the LAPI at {}", self.url),
                    ureq::Error::HostNotFound => format!("the LAPI's host name in {} was not found", self.url),
                    _ => format!("the request to the LAPI at {} failed", self.url),
                };
                Err(LapiError::Down(scrub(&why, &self.secrets())))
            }
        }
    }

    fn judge(&self, what: &str, status: u16, body: &str) -> LapiError {
        let why = scrub(&format!("{what}: the LAPI answered HTTP {status}: {}", Self::said(body)), &self.secrets());
        if status == 401 || status == 403 {
            LapiError::Refused(why)
        } else {
            LapiError::Down(why)
        }
    }

    /// The machine's token, logging in (again) when there is none or it ends within a minute.
    fn jwt(&mut self, now: Timestamp) -> Result<String, LapiError> {
        if let Some((t, until)) = &self.token {
            if now + chrono::Duration::minutes(1) < *until {
                return Ok(t.expose().to_string());
            }
        }
        let creds = self.creds.clone().ok_or_else(|| LapiError::Refused("no machine credentials are set".into()))?;
        let body = json!({
            "machine_id": creds.login,
            "password": creds.password.expose(),
            "scenarios": ["warden/openalgo-404", "warden/openalgo-api-key", "warden/login-attack", "warden/manual"],
        });
        let (status, text) = self.call("POST", "/v1/watchers/login", None, Some(&body))?;
        if status != 200 {
            let mut e = self.judge("logging in as the machine", status, &text);
            if let LapiError::Refused(m) = &mut e {
                m.push_str(" (check the credentials file: `cscli machines add NAME -f FILE` writes it)");
            }
            return Err(e);
        }
        let v: Value =
            serde_json::from_str(&text).map_err(|_| LapiError::Down("the LAPI's login answer is not JSON".into()))?;
        let token = v
            .get("token")
            .and_then(Value::as_str)
            .ok_or_else(|| LapiError::Down("the LAPI's login answer has no token".into()))?;
        let until = v
            .get("expire")
            .and_then(Value::as_str)
            .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
            .map(|t| t.with_timezone(&chrono::Utc))
            .unwrap_or(now + chrono::Duration::minutes(50));
        self.token = Some((Secret::new(token), until));
        Ok(token.to_string())
    }

    /// A call with the machine's token, logging in again once if the token was refused.
    fn with_jwt(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        now: Timestamp,
    ) -> Result<(u16, String), LapiError> {
        let token = self.jwt(now)?;
        let (status, text) = self.call(method, path, Some(("Authorization", format!("Bearer {token}"))), body)?;
        if status != 401 {
            return Ok((status, text));
        }
        self.token = None;
        let token = self.jwt(now)?;
        self.call(method, path, Some(("Authorization", format!("Bearer {token}"))), body)
    }

    /// Logs in as the machine (or checks the token in hand).
    pub fn check_login(&mut self, now: Timestamp) -> Result<(), LapiError> {
        self.jwt(now).map(|_| ())
    }

    /// Pushes one alert per item (one decision each, origin `warden`); returns the alerts' ids.
    pub fn push(&mut self, items: &[PushItem], now: Timestamp) -> Result<Vec<String>, LapiError> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        let at = crate::time::rfc3339(now);
        let alerts: Vec<Value> = items
            .iter()
            .map(|i| {
                json!({
                    "scenario": i.scenario, "scenario_hash": "", "scenario_version": "",
                    "message": format!("warden: {} {} banned ({})", i.scope, i.value, i.scenario),
                    "events_count": 1, "start_at": at, "stop_at": at, "capacity": 0, "leakspeed": "0",
                    "simulated": false, "events": [],
                    "source": { "scope": i.scope, "value": i.value },
                    "decisions": [{
                        "origin": "warden", "type": "ban", "scope": i.scope, "value": i.value,
                        "duration": format!("{}s", i.seconds.max(1)), "scenario": i.scenario,
                    }],
                })
            })
            .collect();
        let (status, text) = self.with_jwt("POST", "/v1/alerts", Some(&Value::Array(alerts)), now)?;
        if status != 200 && status != 201 {
            return Err(self.judge("pushing bans", status, &text));
        }
        let ids: Vec<String> = serde_json::from_str(&text).unwrap_or_default();
        Ok(ids)
    }

    /// The ids of the decisions an alert holds.
    pub fn decisions_of_alert(&mut self, alert: &str, now: Timestamp) -> Result<Vec<i64>, LapiError> {
        let id: String = alert.chars().filter(char::is_ascii_digit).collect();
        let (status, text) = self.with_jwt("GET", &format!("/v1/alerts/{id}"), None, now)?;
        if status != 200 {
            return Err(self.judge("reading a pushed alert", status, &text));
        }
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        Ok(v.get("decisions")
            .and_then(Value::as_array)
            .map(|d| d.iter().filter_map(|x| x.get("id").and_then(Value::as_i64)).collect())
            .unwrap_or_default())
    }

    /// Deletes one decision by id (one Warden pushed; gone already is fine).
    pub fn delete_decision(&mut self, id: i64, now: Timestamp) -> Result<(), LapiError> {
        let (status, text) = self.with_jwt("DELETE", &format!("/v1/decisions/{id}"), None, now)?;
        if status == 200 || status == 404 {
            return Ok(());
        }
        Err(self.judge("deleting a decision", status, &text))
    }

    /// The machine that pushed the newest alert for `value` with origin `warden`, if any.
    pub fn machine_of(&mut self, scope: &str, value: &str, now: Timestamp) -> Option<String> {
        let q = if scope == "Range" { "range" } else { "ip" };
        let path = format!("/v1/alerts?{q}={}&limit=5", crate::alert::channel::url_encode(value));
        let (status, text) = self.with_jwt("GET", &path, None, now).ok()?;
        if status != 200 {
            return None;
        }
        let v: Value = serde_json::from_str(&text).ok()?;
        v.as_array()?.iter().rev().find_map(|a| {
            let from_warden = a
                .get("decisions")?
                .as_array()?
                .iter()
                .any(|d| d.get("origin").and_then(Value::as_str) == Some("warden"));
            from_warden.then(|| a.get("machine_id").and_then(Value::as_str).map(String::from)).flatten()
        })
    }

    /// Pulls the decision stream (`startup` for everything active).
    pub fn stream(&self, startup: bool) -> Result<Stream, LapiError> {
        let key = self.key.as_ref().ok_or_else(|| LapiError::Refused("no bouncer key is set".into()))?;
        let path = if startup { "/v1/decisions/stream?startup=true" } else { "/v1/decisions/stream" };
        let (status, text) = self.call("GET", path, Some(("X-Api-Key", key.expose().to_string())), None)?;
        if status != 200 {
            let mut e = self.judge("pulling decisions", status, &text);
            if let LapiError::Refused(m) = &mut e {
                m.push_str(" (check the bouncer key: `cscli bouncers add NAME -o raw` prints it)");
            }
            return Err(e);
        }
        parse_stream(&text).map_err(LapiError::Down)
    }

    /// Whether the LAPI answers `/health`.
    pub fn health(&self) -> Result<(), LapiError> {
        let (status, text) = self.call("GET", "/health", None, None)?;
        if status == 200 {
            Ok(())
        } else {
            Err(self.judge("asking for its health", status, &text))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_lists_are_empty_and_malformed_entries_are_counted() {
        let s = parse_stream(r#"{"deleted":null,"new":null}"#).unwrap_or_default();
        assert_eq!(s, Stream::default());
        let s = parse_stream(
            r#"{"deleted":[],"new":[{"duration":"23h59m59.11676072s","id":1,"origin":"warden","scenario":"warden/openalgo-404","scope":"Ip","type":"ban","value":"203.0.113.77"},{"id":2}]}"#,
        )
        .unwrap_or_default();
        assert_eq!(s.new.len(), 1);
        assert_eq!(s.malformed, 1);
        assert_eq!(s.new[0].value, "203.0.113.77");
        assert!(parse_stream(r#"{"new": 5}"#).is_err());
        assert!(parse_stream("<html>").is_err());
    }
}
