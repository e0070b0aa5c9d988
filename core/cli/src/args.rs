//! A small argument parser: `gemkit COMMAND --flag value --switch`. Errors are one line.

use std::collections::HashMap;
use std::str::FromStr;

pub struct Args {
    pub command: String,
    values: HashMap<String, Vec<String>>,
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
            values
                .entry(name.to_owned())
                .or_insert_with(Vec::new)
                .push(value.clone());
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

    /// Every value of a flag that may be given several times.
    pub fn all(&self, name: &str) -> &[String] {
        self.values.get(name).map_or(&[], Vec::as_slice)
    }

    /// The value of a flag given at most once.
    fn one(&self, name: &str) -> Result<Option<&str>, String> {
        match self.all(name) {
            [] => Ok(None),
            [v] => Ok(Some(v)),
            _ => Err(format!("--{name} given twice")),
        }
    }

    pub fn required(&self, name: &str) -> Result<&str, String> {
        self.one(name)?
            .ok_or_else(|| format!("gemkit {}: --{name} is required", self.command))
    }

    pub fn opt<T: FromStr>(&self, name: &str) -> Result<Option<T>, String> {
        self.one(name)?
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
