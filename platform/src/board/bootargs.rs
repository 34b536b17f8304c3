//! Kernel command line parsing: whitespace-separated `key=value` and bare tokens.

/// A kernel command line such as `"console=pl011 quiet init=/bin/sh"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BootArgs<'a>(&'a str);

impl<'a> BootArgs<'a> {
    /// Wraps a command line.
    pub const fn new(cmdline: &'a str) -> Self {
        Self(cmdline)
    }

    /// The whole command line.
    pub const fn as_str(&self) -> &'a str {
        self.0
    }

    /// All whitespace-separated tokens, in order.
    pub fn tokens(&self) -> impl Iterator<Item = &'a str> + 'a {
        self.0.split_ascii_whitespace()
    }

    /// The value of the first `key=value` token (the value may be empty or contain
    /// further `=` signs).
    pub fn get(&self, key: &str) -> Option<&'a str> {
        self.tokens()
            .find_map(|t| t.split_once('=').filter(|(k, _)| *k == key).map(|(_, v)| v))
    }

    /// Whether the bare token `name` (without `=`) is present.
    pub fn has_flag(&self, name: &str) -> bool {
        self.tokens().any(|t| t == name)
    }
}

impl<'a> IntoIterator for BootArgs<'a> {
    type Item = &'a str;
    type IntoIter = core::str::SplitAsciiWhitespace<'a>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.split_ascii_whitespace()
    }
}

#[cfg(test)]
mod tests {
    use super::BootArgs;

    #[test]
    fn key_values_flags_and_tokens() {
        let args = BootArgs::new("  console=pl011 quiet init=/bin/sh  opt=a=b empty= \t");
        assert_eq!(args.get("console"), Some("pl011"));
        assert_eq!(args.get("init"), Some("/bin/sh"));
        assert_eq!(args.get("opt"), Some("a=b"));
        assert_eq!(args.get("empty"), Some(""));
        assert_eq!(args.get("quiet"), None);
        assert_eq!(args.get("cons"), None);
        assert!(args.has_flag("quiet"));
        assert!(!args.has_flag("console"));
        assert!(!args.has_flag("qui"));
        let all: Vec<_> = args.tokens().collect();
        assert_eq!(
            all,
            [
                "console=pl011",
                "quiet",
                "init=/bin/sh",
                "opt=a=b",
                "empty="
            ]
        );
        assert_eq!(args.into_iter().count(), 5);
    }

    #[test]
    fn first_occurrence_wins_and_empty_line() {
        let args = BootArgs::new("a=1 a=2");
        assert_eq!(args.get("a"), Some("1"));
        let none = BootArgs::new("");
        assert_eq!(none.tokens().count(), 0);
        assert_eq!(none.get("a"), None);
        assert!(!none.has_flag(""));
    }
}
