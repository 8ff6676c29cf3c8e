//! nginx's configuration as `nginx -T` prints it (every file, each after a
//! `# configuration file PATH:` line), or as files read directly, turned into a tree of
//! directives. Only what the checklist needs: words, quoted strings, `;`, blocks and comments.
//! `include` is not followed here: `nginx -T` has already inlined every file, and files given by
//! hand are read as given.

/// One directive: its name, its arguments, and its block if it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    /// The name, e.g. `server`, `listen`, `add_header`.
    pub name: String,
    /// The arguments, unquoted.
    pub args: Vec<String>,
    /// The directives inside `{ }`, if any.
    pub block: Option<Vec<Directive>>,
    /// The file it is in (from `nginx -T`'s headers, or the file read).
    pub file: String,
    /// Its line in that file.
    pub line: usize,
}

impl Directive {
    /// The directives named `name` directly inside this one's block.
    pub fn children<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Directive> + 'a {
        self.block.iter().flatten().filter(move |d| d.name == name)
    }

    /// `file:line`, for evidence.
    pub fn at(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }

    /// The directive as written, on one line (arguments quoted when they hold spaces).
    pub fn text(&self) -> String {
        let mut s = self.name.clone();
        for a in &self.args {
            s.push(' ');
            if a.is_empty() || a.contains(char::is_whitespace) {
                s.push('"');
                s.push_str(a);
                s.push('"');
            } else {
                s.push_str(a);
            }
        }
        s.push(if self.block.is_some() { ' ' } else { ';' });
        if self.block.is_some() {
            s.push_str("{ … }");
        }
        s
    }
}

/// The whole configuration: the top-level directives of every file, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NginxConf {
    /// Top-level directives (`http`, `events`, …), of every file.
    pub top: Vec<Directive>,
}

impl NginxConf {
    /// Every `server` block inside `http` (or at the top of a file given by hand, as in a
    /// `sites-enabled` file).
    pub fn servers(&self) -> Vec<&Directive> {
        let mut out = Vec::new();
        for d in &self.top {
            match d.name.as_str() {
                "http" => out.extend(d.children("server")),
                "server" => out.push(d),
                _ => {}
            }
        }
        out
    }

    /// The `http` blocks.
    pub fn http(&self) -> impl Iterator<Item = &Directive> + '_ {
        self.top.iter().filter(|d| d.name == "http")
    }
}

/// Parses `nginx -T` output (or a file's text, named `file`). Returns the reason when the text
/// is not a configuration nginx would read (an unbalanced brace, an unclosed quote).
pub fn parse(text: &str, file: &str) -> Result<NginxConf, String> {
    let mut p = P { chars: text.chars().collect(), i: 0, line: 1, file: file.to_string() };
    let top = p.block(0)?;
    Ok(NginxConf { top })
}

struct P {
    chars: Vec<char>,
    i: usize,
    line: usize,
    file: String,
}

enum Tok {
    Word(String),
    Semi,
    Open,
    Close,
    End,
}

impl P {
    fn next(&mut self) -> Result<(Tok, usize), String> {
        loop {
            let Some(&c) = self.chars.get(self.i) else { return Ok((Tok::End, self.line)) };
            match c {
                '\n' => {
                    self.line += 1;
                    self.i += 1;
                }
                c if c.is_whitespace() => self.i += 1,
                '#' => {
                    let start = self.i;
                    while self.chars.get(self.i).is_some_and(|c| *c != '\n') {
                        self.i += 1;
                    }
                    // `nginx -T` names each file in a comment line of its own.
                    let comment: String = self.chars[start..self.i].iter().collect();
                    if let Some(path) =
                        comment.strip_prefix("# configuration file ").and_then(|r| r.trim_end().strip_suffix(':'))
                    {
                        self.file = path.to_string();
                        // The file's own line 1 is the next line.
                        self.line = 0;
                    }
                }
                ';' => {
                    self.i += 1;
                    return Ok((Tok::Semi, self.line));
                }
                '{' => {
                    self.i += 1;
                    return Ok((Tok::Open, self.line));
                }
                '}' => {
                    self.i += 1;
                    return Ok((Tok::Close, self.line));
                }
                '"' | '\'' => {
                    let line = self.line;
                    self.i += 1;
                    let mut w = String::new();
                    loop {
                        let Some(&ch) = self.chars.get(self.i) else {
                            return Err(format!("{}:{line}: a quote is never closed", self.file));
                        };
                        self.i += 1;
                        if ch == '\\' {
                            if let Some(&n) = self.chars.get(self.i) {
                                w.push(n);
                                self.i += 1;
                            }
                            continue;
                        }
                        if ch == '\n' {
                            self.line += 1;
                        }
                        if ch == c {
                            break;
                        }
                        w.push(ch);
                    }
                    return Ok((Tok::Word(w), line));
                }
                _ => {
                    let line = self.line;
                    let mut w = String::new();
                    while let Some(&ch) = self.chars.get(self.i) {
                        if ch.is_whitespace() || matches!(ch, ';' | '{' | '}') {
                            break;
                        }
                        // `${var}` keeps its braces.
                        if ch == '$' && self.chars.get(self.i + 1) == Some(&'{') {
                            while let Some(&b) = self.chars.get(self.i) {
                                w.push(b);
                                self.i += 1;
                                if b == '}' {
                                    break;
                                }
                            }
                            continue;
                        }
                        w.push(ch);
                        self.i += 1;
                    }
                    return Ok((Tok::Word(w), line));
                }
            }
        }
    }

    fn block(&mut self, depth: usize) -> Result<Vec<Directive>, String> {
        if depth > 64 {
            return Err(format!("{}:{}: blocks nested more than 64 deep", self.file, self.line));
        }
        let mut out = Vec::new();
        let mut words: Vec<String> = Vec::new();
        let mut first_line = 0;
        loop {
            let (tok, line) = self.next()?;
            match tok {
                Tok::Word(w) => {
                    if words.is_empty() {
                        first_line = line;
                    }
                    words.push(w);
                }
                Tok::Semi => {
                    if let Some((name, args)) = words.split_first() {
                        out.push(Directive {
                            name: name.clone(),
                            args: args.to_vec(),
                            block: None,
                            file: self.file.clone(),
                            line: first_line,
                        });
                    }
                    words.clear();
                }
                Tok::Open => {
                    let file = self.file.clone();
                    let Some((name, args)) = words.split_first().map(|(n, a)| (n.clone(), a.to_vec())) else {
                        return Err(format!("{}:{line}: a block without a name", self.file));
                    };
                    words.clear();
                    let block = self.block(depth + 1)?;
                    out.push(Directive { name, args, block: Some(block), file, line: first_line });
                }
                Tok::Close => {
                    if depth == 0 {
                        return Err(format!("{}:{line}: a '}}' closes nothing", self.file));
                    }
                    return Ok(out);
                }
                Tok::End => {
                    if depth > 0 {
                        return Err(format!("{}: a block is never closed", self.file));
                    }
                    return Ok(out);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_nginx_t_output_with_file_names_lines_quotes_and_blocks() {
        let text = "# configuration file /etc/nginx/nginx.conf:\nuser www-data;\nhttp {\n    server_tokens off;\n    include /etc/nginx/sites-enabled/*;\n}\n\n# configuration file /etc/nginx/sites-enabled/openalgo:\nserver {\n  listen 443 ssl;\n  add_header Strict-Transport-Security \"max-age=63072000; includeSubDomains\" always;\n  location / { proxy_set_header CF-Connecting-IP \"\"; proxy_pass http://unix:/var/python/openalgo/openalgo.sock; }\n}\n";
        let conf = parse(text, "nginx -T").expect("parses");
        let servers = conf.servers();
        assert_eq!(servers.len(), 1);
        let s = servers[0];
        assert_eq!(s.file, "/etc/nginx/sites-enabled/openalgo");
        assert_eq!(s.line, 1);
        let hsts = s.children("add_header").next().expect("add_header");
        assert_eq!(hsts.args, ["Strict-Transport-Security", "max-age=63072000; includeSubDomains", "always"]);
        assert_eq!(hsts.line, 3);
        let loc = s.children("location").next().expect("location");
        let cf = loc.children("proxy_set_header").next().expect("header");
        assert_eq!(cf.args, ["CF-Connecting-IP", ""]);
        assert_eq!(conf.http().next().expect("http").children("server_tokens").next().expect("tokens").args, ["off"]);
    }

    #[test]
    fn unbalanced_braces_and_quotes_are_refused_with_the_place() {
        assert!(parse("http {\n server {\n", "f").expect_err("open").contains("never closed"));
        assert!(parse("}\n", "f").expect_err("close").contains("f:1"));
        assert!(parse("add_header X \"abc;\n", "f").expect_err("quote").contains("quote"));
    }
}
