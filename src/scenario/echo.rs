//! Echoing what a scenario file said in an error without flooding the terminal: a value is cut to
//! [`ECHO_CHARS`] characters plus its length (`aaaa… (1048576 bytes)`).

/// How many characters of a value an error message repeats.
pub const ECHO_CHARS: usize = 60;
/// A line of a parser's message longer than this is cut too (once its quoted values are).
const LINE_CHARS: usize = 400;

/// `value` as an error shows it: whole up to [`ECHO_CHARS`] characters, else cut, with its size.
pub fn shown(value: &str) -> String {
    cut(value, ECHO_CHARS)
}

fn cut(value: &str, chars: usize) -> String {
    match value.char_indices().nth(chars) {
        None => value.to_owned(),
        Some((end, _)) => format!("{}… ({} bytes)", &value[..end], value.len()),
    }
}

/// A parser's message with every quoted value (between backquotes or double quotes) cut by
/// [`shown`], and every line still longer than 400 characters cut as well (the source line and
/// its `^^^` marker under a huge value).
pub fn shown_message(message: &str) -> String {
    message
        .lines()
        .map(|line| cut(&cut_quoted(line), LINE_CHARS))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `line` with the text between each pair of quotes passed through [`shown`].
fn cut_quoted(line: &str) -> String {
    let mut out = String::with_capacity(line.len().min(1024));
    let mut rest = line;
    while let Some(open) = rest.find(['`', '"']) {
        let quote = rest.as_bytes()[open] as char;
        let after = &rest[open + 1..];
        let Some(close) = after.find(quote) else {
            break;
        };
        out.push_str(&rest[..=open]);
        out.push_str(&shown(&after[..close]));
        out.push(quote);
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_values_are_shown_whole() {
        assert_eq!(shown("rs1"), "rs1");
        let sixty = "é".repeat(60);
        assert_eq!(shown(&sixty), sixty);
    }

    #[test]
    fn long_values_are_cut_with_their_size() {
        let long = "a".repeat(1 << 20);
        assert_eq!(shown(&long), format!("{}… (1048576 bytes)", "a".repeat(60)));
        // Cut on a character boundary, the size in bytes.
        let wide = "é".repeat(61);
        assert_eq!(shown(&wide), format!("{}… (122 bytes)", "é".repeat(60)));
    }

    #[test]
    fn parser_messages_get_quoted_values_and_long_lines_cut() {
        let value = "x".repeat(5000);
        let message = format!(
            "TOML parse error at line 1\n1 | name = \"{value}\"\n  | {}\nunknown `{value}`, expected `a`",
            "^".repeat(5002)
        );
        let shown = shown_message(&message);
        assert!(shown.len() < 1000, "{shown}");
        assert!(shown.contains("… (5000 bytes)\""), "{shown}");
        assert!(shown.contains("… (5000 bytes)`, expected `a`"), "{shown}");
        assert!(shown.contains("… (5006 bytes)"), "the marker line: {shown}");
        assert!(shown.starts_with("TOML parse error at line 1\n"), "{shown}");
    }
}
