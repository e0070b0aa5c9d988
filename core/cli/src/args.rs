//! A small argument parser: `gemkit COMMAND --flag value --switch`. Errors are one line.

use std::collections::HashMap;
use std::str::FromStr;

pub struct Args {
    pub command: String,
    values: HashMap<String, String>,
    switches: Vec<String>,
}

impl Args {
    /// Parses `argv` (without the program name). `switches` are the flags that take no value.
    pub fn parse(argv: &[String], switches: &[&str]) -> Result<Args, String> {
        let (command, rest) = argv.split_first().ok_or("no command given")?;
        let mut values = HashMap::new();
        let mut seen_switches = Vec::new();
        let mut it = rest.iter();
        while let Some(arg) = it.next() {
            let name = arg
                .strip_prefix("--")
                .ok_or_else(|| format!("unexpected argument {arg:?}"))?;
            if switches.contains(&name) {
                seen_switches.push(name.to_owned());
                continue;
            }
            let value = it.next().ok_or_else(|| format!("--{name} needs a value"))?;
            if values.insert(name.to_owned(), value.clone()).is_some() {
                return Err(format!("--{name} given twice"));
            }
        }
        Ok(Args {
            command: command.clone(),
            values,
            switches: seen_switches,
        })
    }

    /// Fails on any flag the command does not take, so typos are not silently ignored.
    pub fn allow(&self, flags: &[&str]) -> Result<(), String> {
        let unknown = self
            .values
            .keys()
            .chain(&self.switches)
            .find(|k| !flags.contains(&k.as_str()));
        match unknown {
            Some(k) => Err(format!("gemkit {}: unknown option --{k}", self.command)),
            None => Ok(()),
        }
    }

    pub fn switch(&self, name: &str) -> bool {
        self.switches.iter().any(|s| s == name)
    }

    pub fn required(&self, name: &str) -> Result<&str, String> {
        self.values
            .get(name)
            .map(String::as_str)
            .ok_or_else(|| format!("gemkit {}: --{name} is required", self.command))
    }

    pub fn opt<T: FromStr>(&self, name: &str) -> Result<Option<T>, String> {
        self.values
            .get(name)
            .map(|v| {
                v.parse()
                    .map_err(|_| format!("--{name}: cannot read {v:?} as a number"))
            })
            .transpose()
    }

    pub fn get<T: FromStr>(&self, name: &str, default: T) -> Result<T, String> {
        Ok(self.opt(name)?.unwrap_or(default))
    }
}
