//! Judging nginx's server for OpenAlgo: HTTPS, headers, the address headers a client can fake,
//! and the access log.

use super::finding;
use crate::check::env::EnvFile;
use crate::check::facts::Fact;
use crate::check::nginx::{Directive, NginxConf};
use crate::check::{Finding, Status};

/// The upstream targets of `proxy_pass` that are OpenAlgo: its Unix socket, or its port on this
/// machine (`FLASK_PORT`, default 5000), directly or through an `upstream` block.
fn is_openalgo_target(target: &str, conf: &NginxConf, port: &str) -> bool {
    let t = target.trim_start_matches("http://").trim_start_matches("https://");
    if t.starts_with("unix:") {
        return t.contains("openalgo") || t.contains(".sock");
    }
    let host_port = t.split('/').next().unwrap_or(t);
    if host_port == format!("127.0.0.1:{port}")
        || host_port == format!("localhost:{port}")
        || host_port == format!("[::1]:{port}")
    {
        return true;
    }
    // An upstream by that name whose servers are OpenAlgo.
    conf.http().flat_map(|h| h.children("upstream")).any(|u| {
        u.args.first().is_some_and(|n| n == host_port)
            && u.children("server")
                .any(|s| s.args.first().is_some_and(|a| is_openalgo_target(a, &NginxConf::default(), port)))
    })
}

fn flask_port(env: Option<&EnvFile>) -> String {
    env.and_then(|e| e.get("FLASK_PORT")).map_or_else(|| "5000".to_string(), |p| p.trim().to_string())
}

/// The `location` blocks (with their server) that proxy to OpenAlgo.
fn openalgo_locations<'a>(conf: &'a NginxConf, env: Option<&EnvFile>) -> Vec<(&'a Directive, &'a Directive)> {
    let port = flask_port(env);
    let mut out = Vec::new();
    for s in conf.servers() {
        for l in s.children("location") {
            if l.children("proxy_pass").any(|p| p.args.first().is_some_and(|t| is_openalgo_target(t, conf, &port))) {
                out.push((s, l));
            }
        }
    }
    out
}

/// Whether nginx proxies to OpenAlgo.
pub(super) fn fronts_openalgo(conf: &NginxConf, env: Option<&EnvFile>) -> bool {
    !openalgo_locations(conf, env).is_empty()
}

/// The servers that serve OpenAlgo: those proxying to it, and the plain-HTTP servers for the same
/// names.
fn openalgo_servers<'a>(conf: &'a NginxConf, env: Option<&EnvFile>) -> Vec<&'a Directive> {
    let mut out: Vec<&Directive> = Vec::new();
    for (s, _) in openalgo_locations(conf, env) {
        if !out.iter().any(|o| std::ptr::eq(*o, s)) {
            out.push(s);
        }
    }
    out
}

fn names(s: &Directive) -> Vec<&str> {
    s.children("server_name").flat_map(|d| d.args.iter().map(String::as_str)).collect()
}

fn is_tls(s: &Directive) -> bool {
    s.children("listen").any(|l| l.args.iter().any(|a| a == "ssl" || a == "quic"))
}

/// The `name` directives (`add_header`, `proxy_set_header`) in force at the innermost of
/// `levels`, inherited as nginx inherits them: from the innermost level that has any.
fn in_force<'a>(levels: &[&'a Directive], name: &'a str) -> Vec<&'a Directive> {
    for level in levels.iter().rev() {
        let here: Vec<&Directive> = level.children(name).collect();
        if !here.is_empty() {
            return here;
        }
    }
    Vec::new()
}

fn has_header(hs: &[&Directive], name: &str) -> Option<String> {
    hs.iter()
        .find(|h| h.args.first().is_some_and(|n| n.eq_ignore_ascii_case(name)))
        .map(|h| format!("{}: {}", h.at(), h.text()))
}

/// All nginx checks.
pub fn nginx_checks(
    nginx: &Fact<(NginxConf, String)>,
    env: Option<&EnvFile>,
    readable: &[(String, Result<(), String>)],
) -> Vec<Finding> {
    const IDS: &[(&str, &str)] = &[
        ("nginx.tls", "HTTPS, and HTTP redirected"),
        ("nginx.hsts", "HSTS"),
        ("nginx.security_headers", "Security headers"),
        ("nginx.server_tokens", "nginx's version hidden"),
        ("nginx.spoofable_ip_headers", "Address headers a client can fake"),
        ("nginx.access_log_readable", "An access log Warden can read"),
    ];
    let (conf, source) = match nginx {
        Ok((c, s)) => (c, s),
        Err(reason) => {
            return IDS
                .iter()
                .map(|(id, title)| Finding::unknown(id, title, "This is judged from nginx's configuration.", reason))
                .collect();
        }
    };
    let mut servers = openalgo_servers(conf, env);
    if servers.is_empty() {
        let reason = format!("no server in {source} proxies to OpenAlgo (its socket or 127.0.0.1:{})", flask_port(env));
        return IDS
            .iter()
            .map(|(id, title)| {
                Finding::unknown(id, title, "This is judged from the nginx server that fronts OpenAlgo.", &reason)
            })
            .collect();
    }
    let https: Vec<&Directive> = servers.iter().copied().filter(|s| is_tls(s)).collect();
    let app_names: Vec<&str> = servers.iter().flat_map(|s| names(s)).collect();
    // The plain-HTTP servers for the same names: they must redirect.
    for s in conf.servers() {
        if !is_tls(s) && names(s).iter().any(|n| app_names.contains(n)) && !servers.iter().any(|o| std::ptr::eq(*o, s))
        {
            servers.push(s);
        }
    }
    let plain_proxies: Vec<&Directive> =
        servers.iter().copied().filter(|s| !is_tls(s) && proxies(s, conf, env)).collect();
    let http: Vec<&Directive> = conf.http().collect();
    let mut out = Vec::new();

    // TLS.
    let (id, title) = IDS[0];
    out.push(if https.is_empty() {
        finding(id, title, Status::Fail, "OpenAlgo is served over plain HTTP: your password and session cross the internet unencrypted.")
            .fix("Get a certificate and turn on HTTPS: sudo apt install certbot python3-certbot-nginx && sudo certbot --nginx")
            .seen(servers.iter().map(|s| format!("{}: server listening on {}", s.at(), listens(s))).collect::<Vec<_>>().join("; "))
    } else if let Some(p) = plain_proxies.first() {
        finding(
            id,
            title,
            Status::Warn,
            "HTTPS is on, but a plain-HTTP server also serves OpenAlgo instead of redirecting to HTTPS.",
        )
        .fix("In that server, replace the proxy with: return 301 https://$host$request_uri;")
        .seen(format!("{}: server listening on {}", p.at(), listens(p)))
    } else {
        finding(id, title, Status::Pass, "OpenAlgo is served over HTTPS, and plain HTTP redirects to it.")
            .seen(https.iter().map(|s| format!("{}: {}", s.at(), listens(s))).collect::<Vec<_>>().join("; "))
    });

    // HSTS.
    let (id, title) = IDS[1];
    let hsts: Vec<Option<String>> = https
        .iter()
        .map(|s| {
            has_header(&in_force(&[http.first().copied().unwrap_or(s), s], "add_header"), "Strict-Transport-Security")
        })
        .collect();
    out.push(if https.is_empty() {
        finding(id, title, Status::Fail, "HSTS needs HTTPS first (see nginx.tls).")
    } else if let Some(seen) = hsts.iter().flatten().next().filter(|_| hsts.iter().all(Option::is_some)) {
        finding(id, title, Status::Pass, "Browsers are told to use HTTPS only.").seen(seen.clone())
    } else {
        finding(
            id,
            title,
            Status::Warn,
            "Browsers are not told to use HTTPS only, so the first visit can be downgraded to plain HTTP.",
        )
        .fix("In the HTTPS server of OpenAlgo add: add_header Strict-Transport-Security \"max-age=63072000\" always;")
        .seen(format!(
            "no Strict-Transport-Security header in {}",
            https.iter().map(|s| s.at()).collect::<Vec<_>>().join(", ")
        ))
    });

    // Security headers: set by nginx, or by OpenAlgo itself when its CSP is on.
    let (id, title) = IDS[2];
    let csp_on = env.is_none_or(|e| e.get("CSP_ENABLED").is_none_or(|v| v.trim().eq_ignore_ascii_case("true")));
    let level = https.first().or(servers.first()).copied();
    let hs = level.map(|s| in_force(&[http.first().copied().unwrap_or(s), s], "add_header")).unwrap_or_default();
    let missing: Vec<&str> =
        ["X-Content-Type-Options", "X-Frame-Options"].into_iter().filter(|h| has_header(&hs, h).is_none()).collect();
    out.push(if missing.is_empty() || csp_on {
        let by = if missing.is_empty() { "nginx" } else { "OpenAlgo (its CSP middleware)" };
        finding(id, title, Status::Pass, format!("X-Content-Type-Options, X-Frame-Options and a Content-Security-Policy are sent, by {by}."))
    } else {
        finding(id, title, Status::Warn, "Neither nginx nor OpenAlgo sends X-Content-Type-Options and X-Frame-Options, which stop content sniffing and clickjacking.")
            .fix("In the HTTPS server add: add_header X-Content-Type-Options nosniff; add_header X-Frame-Options DENY;")
            .seen(format!("missing: {}", missing.join(", ")))
    });

    // server_tokens.
    let (id, title) = IDS[3];
    // A file given by hand (a sites-enabled file) is included inside http { }: its top level is
    // http's.
    let tokens_off = http
        .iter()
        .chain(servers.iter())
        .flat_map(|d| d.children("server_tokens"))
        .chain(conf.top.iter().filter(|d| d.name == "server_tokens"))
        .find(|d| d.args.first().is_some_and(|a| a == "off"));
    out.push(match tokens_off {
        Some(d) => finding(id, title, Status::Pass, "nginx does not tell visitors its version.").seen(format!(
            "{}: {}",
            d.at(),
            d.text()
        )),
        None => finding(
            id,
            title,
            Status::Warn,
            "nginx tells every visitor, scanners included, exactly which version it runs.",
        )
        .fix("In the http { } block of /etc/nginx/nginx.conf add: server_tokens off;"),
    });

    // Spoofable address headers.
    let (id, title) = IDS[4];
    let trusts = env.is_none_or(|e| e.flag("TRUST_PROXY_HEADERS").unwrap_or(false));
    let mut leaks = Vec::new();
    for (s, l) in openalgo_locations(conf, env) {
        let set = in_force(&[http.first().copied().unwrap_or(s), s, l], "proxy_set_header");
        for h in ["CF-Connecting-IP", "True-Client-IP"] {
            let cleared = set.iter().any(|d| {
                d.args.first().is_some_and(|n| n.eq_ignore_ascii_case(h))
                    && d.args.get(1).is_some_and(|v| v.is_empty() || v == "$remote_addr")
            });
            if !cleared {
                leaks.push(format!("{}: location {} passes {h} as the client sent it", l.at(), l.args.join(" ")));
            }
        }
    }
    out.push(if leaks.is_empty() {
        finding(id, title, Status::Pass, "nginx clears CF-Connecting-IP and True-Client-IP before they reach OpenAlgo.")
    } else if !trusts {
        finding(id, title, Status::Pass, "OpenAlgo trusts no address header (TRUST_PROXY_HEADERS is off), so clients cannot fake their address through them.")
    } else {
        finding(
            id,
            title,
            Status::Fail,
            "OpenAlgo trusts CF-Connecting-IP and True-Client-IP before nginx's own header, and nginx passes them on as \
             the client sent them: any client can pose as another address, walk past its ban or get someone else banned.",
        )
        .fix(
            "In each location that proxies to OpenAlgo add: proxy_set_header CF-Connecting-IP \"\"; proxy_set_header \
             True-Client-IP \"\"; (keep them only behind Cloudflare or Akamai, with their ranges in set_real_ip_from). \
             Then: sudo nginx -t && sudo systemctl reload nginx",
        )
        .seen(leaks.into_iter().take(4).collect::<Vec<_>>().join("; "))
    });

    // The access log.
    out.push(access_log(&servers, &http, readable));
    out
}

fn listens(s: &Directive) -> String {
    let l: Vec<String> = s.children("listen").map(|l| l.args.join(" ")).collect();
    if l.is_empty() {
        "80 (the default)".into()
    } else {
        l.join(", ")
    }
}

fn proxies(s: &Directive, conf: &NginxConf, env: Option<&EnvFile>) -> bool {
    let port = flask_port(env);
    s.children("location")
        .any(|l| l.children("proxy_pass").any(|p| p.args.first().is_some_and(|t| is_openalgo_target(t, conf, &port))))
}

/// nginx's predefined format, and the ones Warden reads by name.
const KNOWN_FORMATS: &[&str] = &["combined", "main"];

fn access_log(servers: &[&Directive], http: &[&Directive], readable: &[(String, Result<(), String>)]) -> Finding {
    let (id, title) = ("nginx.access_log_readable", "An access log Warden can read");
    // The innermost access_log in force for OpenAlgo's HTTPS server (or any of its servers).
    let server = servers.iter().find(|s| is_tls(s)).or(servers.first()).copied();
    let chosen = server
        .and_then(|s| s.children("access_log").next())
        .or_else(|| http.iter().flat_map(|h| h.children("access_log")).next());
    let Some(log) = chosen else {
        return finding(
            id,
            title,
            Status::Pass,
            "nginx writes its default access log (/var/log/nginx/access.log) in the combined format, which Warden reads.",
        )
        .seen("no access_log directive: nginx's default applies");
    };
    if log.args.first().is_some_and(|a| a == "off") {
        return finding(
            id,
            title,
            Status::Fail,
            "nginx keeps no access log for OpenAlgo, so Warden cannot see the clients nginx sees.",
        )
        .fix("In OpenAlgo's server replace access_log off; with: access_log /var/log/nginx/access.log;")
        .seen(format!("{}: {}", log.at(), log.text()));
    }
    let path = log.args.first().cloned().unwrap_or_default();
    let format = log.args.get(1).map(String::as_str).unwrap_or("combined");
    if !KNOWN_FORMATS.contains(&format) {
        let defined =
            http.iter().flat_map(|h| h.children("log_format")).find(|d| d.args.first().is_some_and(|n| n == format));
        let spec = defined.map(|d| d.args[1..].concat());
        let ok = spec.as_deref().is_some_and(|s| crate::source::access::pipeline::LineParser::new(s).is_ok());
        if !ok {
            return finding(
                id,
                title,
                Status::Warn,
                format!("The access log uses the log_format '{format}', which Warden could not read as given."),
            )
            .fix(format!(
                "Give Warden the same format: in Warden's configuration, [[access_log]] path = \"{path}\" and format = the log_format's text."
            ))
            .seen(format!("{}: {}", log.at(), log.text()));
        }
    }
    match readable.iter().find(|(p, _)| *p == path) {
        Some((_, Err(e))) => finding(
            id,
            title,
            Status::Warn,
            "nginx writes a log Warden understands, but Warden's user may not read it.",
        )
        .fix("Add Warden's user to the group that owns the logs: sudo usermod -aG adm <warden's user>")
        .seen(format!("{}: {} ({e})", log.at(), log.text())),
        _ => finding(id, title, Status::Pass, "nginx writes an access log that Warden reads.").seen(format!(
            "{}: {}",
            log.at(),
            log.text()
        )),
    }
}
