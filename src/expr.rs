//! The small expression language of model files: per-neuron parameters as functions
//! of a uniform `r` (e.g. `-65 + 15*r^2`), synaptic weights as functions of a uniform `u`.
//!
//! Grammar: numbers, names, `+ - * / ^`, unary minus, parentheses, and the functions
//! `sqrt exp ln log abs min max`. `^` binds tighter than unary minus (`-r^2` = −(r²)),
//! as in MATLAB and Python. Evaluated in f64.

use std::fmt;

#[derive(Clone, Debug, PartialEq)]
enum Node {
    Number(f64),
    Var(usize),
    Neg(Box<Node>),
    Binary(Op, Box<Node>, Box<Node>),
    Call(Func, Vec<Node>),
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Op {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Func {
    Sqrt,
    Exp,
    Ln,
    Abs,
    Min,
    Max,
}

impl Func {
    fn from_name(name: &str) -> Option<(Func, usize)> {
        Some(match name {
            "sqrt" => (Func::Sqrt, 1),
            "exp" => (Func::Exp, 1),
            "ln" | "log" => (Func::Ln, 1),
            "abs" => (Func::Abs, 1),
            "min" => (Func::Min, 2),
            "max" => (Func::Max, 2),
            _ => return None,
        })
    }
}

/// A parsed expression whose variables are resolved to slots of a value array.
#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    root: Node,
}

/// Why an expression was rejected, with the 1-based character column in its text.
#[derive(Clone, Debug, PartialEq)]
pub struct ExprError {
    pub column: usize,
    pub message: String,
}

impl fmt::Display for ExprError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at character {})", self.message, self.column)
    }
}

impl Expr {
    /// Parses `text`; `names` are the variables it may use, in slot order.
    pub fn parse(text: &str, names: &[&str]) -> Result<Expr, ExprError> {
        let mut parser = Parser { chars: text.char_indices().collect(), pos: 0, names, text };
        let root = parser.sum()?;
        parser.skip_space();
        if parser.pos < parser.chars.len() {
            return Err(parser.error(format!("unexpected '{}'", parser.chars[parser.pos].1)));
        }
        Ok(Expr { root })
    }

    /// The value for the variable values `vars` (in the slot order given to `parse`).
    pub fn eval(&self, vars: &[f64]) -> f64 {
        eval(&self.root, vars)
    }

    /// The expression's value if it uses no variable.
    pub fn constant(&self) -> Option<f64> {
        fn uses_vars(node: &Node) -> bool {
            match node {
                Node::Number(_) => false,
                Node::Var(_) => true,
                Node::Neg(a) => uses_vars(a),
                Node::Binary(_, a, b) => uses_vars(a) || uses_vars(b),
                Node::Call(_, args) => args.iter().any(uses_vars),
            }
        }
        (!uses_vars(&self.root)).then(|| eval(&self.root, &[]))
    }

    /// Evaluates the expression `n` times, variable slot `i` taking its values from
    /// `vars[i]`, node by node over the whole batch, so that the tree is walked once per
    /// batch, not once per value. Gives exactly the values of `eval`.
    pub fn eval_batch(&self, n: usize, vars: &[Vec<f64>], out: &mut Vec<f64>) {
        *out = eval_batch(&self.root, n, vars);
    }

    /// The number of variable slots the expression reads: one more than the highest used.
    pub fn slots_used(&self) -> usize {
        fn highest(node: &Node) -> usize {
            match node {
                Node::Number(_) => 0,
                Node::Var(i) => i + 1,
                Node::Neg(a) => highest(a),
                Node::Binary(_, a, b) => highest(a).max(highest(b)),
                Node::Call(_, args) => args.iter().map(highest).max().unwrap_or(0),
            }
        }
        highest(&self.root)
    }
}

fn eval_batch(node: &Node, n: usize, vars: &[Vec<f64>]) -> Vec<f64> {
    let map2 = |a: Vec<f64>, b: Vec<f64>, f: &dyn Fn(f64, f64) -> f64| a.iter().zip(&b).map(|(&x, &y)| f(x, y)).collect();
    match node {
        Node::Number(x) => vec![*x; n],
        Node::Var(i) => vars[*i][..n].to_vec(),
        Node::Neg(a) => eval_batch(a, n, vars).into_iter().map(|x| -x).collect(),
        Node::Binary(op, a, b) => {
            let (a, b) = (eval_batch(a, n, vars), eval_batch(b, n, vars));
            match op {
                Op::Add => map2(a, b, &|x, y| x + y),
                Op::Sub => map2(a, b, &|x, y| x - y),
                Op::Mul => map2(a, b, &|x, y| x * y),
                Op::Div => map2(a, b, &|x, y| x / y),
                Op::Pow => map2(a, b, &pow),
            }
        }
        Node::Call(..) => (0..n).map(|k| eval(node, &vars.iter().map(|v| v[k]).collect::<Vec<_>>())).collect(),
    }
}

/// Integer powers as repeated products, so that r^2 is exactly r*r (net.m's r.^2).
fn pow(a: f64, b: f64) -> f64 {
    if b.fract() == 0.0 && b.abs() <= 16.0 {
        a.powi(b as i32)
    } else {
        a.powf(b)
    }
}

fn eval(node: &Node, vars: &[f64]) -> f64 {
    match node {
        Node::Number(x) => *x,
        Node::Var(i) => vars[*i],
        Node::Neg(a) => -eval(a, vars),
        Node::Binary(op, a, b) => {
            let (a, b) = (eval(a, vars), eval(b, vars));
            match op {
                Op::Add => a + b,
                Op::Sub => a - b,
                Op::Mul => a * b,
                Op::Div => a / b,
                Op::Pow => pow(a, b),
            }
        }
        Node::Call(f, args) => {
            let x = eval(&args[0], vars);
            match f {
                Func::Sqrt => x.sqrt(),
                Func::Exp => x.exp(),
                Func::Ln => x.ln(),
                Func::Abs => x.abs(),
                Func::Min => x.min(eval(&args[1], vars)),
                Func::Max => x.max(eval(&args[1], vars)),
            }
        }
    }
}

struct Parser<'a> {
    chars: Vec<(usize, char)>,
    pos: usize,
    names: &'a [&'a str],
    text: &'a str,
}

impl Parser<'_> {
    fn error(&self, message: String) -> ExprError {
        ExprError { column: self.pos + 1, message }
    }

    fn skip_space(&mut self) {
        while self.pos < self.chars.len() && self.chars[self.pos].1.is_whitespace() {
            self.pos += 1;
        }
    }

    fn peek(&mut self) -> Option<char> {
        self.skip_space();
        self.chars.get(self.pos).map(|c| c.1)
    }

    fn sum(&mut self) -> Result<Node, ExprError> {
        let mut left = self.product()?;
        while let Some(c @ ('+' | '-')) = self.peek() {
            self.pos += 1;
            let right = self.product()?;
            let op = if c == '+' { Op::Add } else { Op::Sub };
            left = Node::Binary(op, Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn product(&mut self) -> Result<Node, ExprError> {
        let mut left = self.unary()?;
        while let Some(c @ ('*' | '/')) = self.peek() {
            self.pos += 1;
            let right = self.unary()?;
            let op = if c == '*' { Op::Mul } else { Op::Div };
            left = Node::Binary(op, Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Node, ExprError> {
        match self.peek() {
            Some('-') => {
                self.pos += 1;
                Ok(Node::Neg(Box::new(self.unary()?)))
            }
            Some('+') => {
                self.pos += 1;
                self.unary()
            }
            _ => self.power(),
        }
    }

    fn power(&mut self) -> Result<Node, ExprError> {
        let base = self.atom()?;
        if self.peek() == Some('^') {
            self.pos += 1;
            // Right-associative; the exponent may carry its own sign.
            let exponent = self.unary()?;
            return Ok(Node::Binary(Op::Pow, Box::new(base), Box::new(exponent)));
        }
        Ok(base)
    }

    fn atom(&mut self) -> Result<Node, ExprError> {
        let Some(c) = self.peek() else {
            return Err(self.error("expected a number, a name or '(' but the expression ends".into()));
        };
        if c == '(' {
            self.pos += 1;
            let inner = self.sum()?;
            self.expect(')')?;
            return Ok(inner);
        }
        if c.is_ascii_digit() || c == '.' {
            return self.number();
        }
        if c.is_alphabetic() || c == '_' {
            let start = self.pos;
            while self.pos < self.chars.len() && (self.chars[self.pos].1.is_alphanumeric() || self.chars[self.pos].1 == '_') {
                self.pos += 1;
            }
            let name: String = self.chars[start..self.pos].iter().map(|c| c.1).collect();
            if self.peek() == Some('(') {
                let Some((func, arity)) = Func::from_name(&name) else {
                    return Err(ExprError {
                        column: start + 1,
                        message: format!("unknown function '{name}' (known: sqrt, exp, ln, log, abs, min, max)"),
                    });
                };
                self.pos += 1;
                let mut args = vec![self.sum()?];
                while self.peek() == Some(',') {
                    self.pos += 1;
                    args.push(self.sum()?);
                }
                if args.len() != arity {
                    return Err(ExprError {
                        column: start + 1,
                        message: format!("'{name}' takes {arity} argument(s), got {}", args.len()),
                    });
                }
                self.expect(')')?;
                return Ok(Node::Call(func, args));
            }
            return match self.names.iter().position(|n| *n == name) {
                Some(slot) => Ok(Node::Var(slot)),
                None => Err(ExprError {
                    column: start + 1,
                    message: if self.names.is_empty() {
                        format!("unknown name '{name}': this value must be a constant")
                    } else {
                        format!("unknown name '{name}' (known here: {})", self.names.join(", "))
                    },
                }),
            };
        }
        Err(self.error(format!("unexpected '{c}'")))
    }

    fn number(&mut self) -> Result<Node, ExprError> {
        let start = self.pos;
        let byte_start = self.chars[start].0;
        while self.pos < self.chars.len() {
            let c = self.chars[self.pos].1;
            let exponent_sign = (c == '+' || c == '-') && self.pos > start && matches!(self.chars[self.pos - 1].1, 'e' | 'E');
            if c.is_ascii_digit() || c == '.' || c == 'e' || c == 'E' || exponent_sign {
                self.pos += 1;
            } else {
                break;
            }
        }
        let byte_end = self.chars.get(self.pos).map_or(self.text.len(), |c| c.0);
        let literal = &self.text[byte_start..byte_end];
        literal
            .parse::<f64>()
            .map(Node::Number)
            .map_err(|_| ExprError { column: start + 1, message: format!("'{literal}' is not a number") })
    }

    fn expect(&mut self, want: char) -> Result<(), ExprError> {
        if self.peek() == Some(want) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error(format!("expected '{want}'")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(text: &str, r: f64) -> f64 {
        Expr::parse(text, &["r"]).unwrap().eval(&[r])
    }

    #[test]
    fn evaluates_net_m_parameters() {
        assert_eq!(value("-65 + 15*r^2", 0.5), -65.0 + 15.0 * 0.25);
        assert_eq!(value("8-6*r^2", 0.3), 8.0 - 6.0 * (0.3 * 0.3));
        assert_eq!(value("0.02+0.08*r", 0.5), 0.02 + 0.08 * 0.5);
        assert_eq!(value("-r^2", 3.0), -9.0);
        assert_eq!(value("2^-1", 0.0), 0.5);
        assert_eq!(value("max(1, sqrt(16)) / (1e1 - 5e0)", 0.0), 0.8);
        assert_eq!(value("1.5e-3*1000", 0.0), 1.5);
    }

    #[test]
    fn batch_evaluation_equals_scalar_evaluation() {
        let e = Expr::parse("-(0.5*u - 1)^2 / 3 + max(u, 0.25)", &["u"]).unwrap();
        let xs: Vec<f64> = (0..100).map(|i| i as f64 / 97.0).collect();
        let mut out = Vec::new();
        e.eval_batch(xs.len(), std::slice::from_ref(&xs), &mut out);
        for (x, y) in xs.iter().zip(&out) {
            assert_eq!(e.eval(&[*x]).to_bits(), y.to_bits());
        }
    }

    #[test]
    fn counts_the_slots_it_reads() {
        let names = ["u", "u2", "u3"];
        assert_eq!(Expr::parse("1.5", &names).unwrap().slots_used(), 0);
        assert_eq!(Expr::parse("u*2", &names).unwrap().slots_used(), 1);
        assert_eq!(Expr::parse("u + u3", &names).unwrap().slots_used(), 3);
    }

    #[test]
    fn constants_are_recognised() {
        assert_eq!(Expr::parse("0.5 * 4", &["r"]).unwrap().constant(), Some(2.0));
        assert_eq!(Expr::parse("0.5 * r", &["r"]).unwrap().constant(), None);
    }

    #[test]
    fn errors_name_the_column_and_the_problem() {
        let e = Expr::parse("-65 + 15*q^2", &["r"]).unwrap_err();
        assert_eq!(e.column, 10);
        assert_eq!(e.message, "unknown name 'q' (known here: r)");
        let e = Expr::parse("1 + (2", &["r"]).unwrap_err();
        assert_eq!(e.message, "expected ')'");
        let e = Expr::parse("1 +", &["r"]).unwrap_err();
        assert!(e.message.contains("ends"));
        let e = Expr::parse("foo(1)", &["r"]).unwrap_err();
        assert!(e.message.starts_with("unknown function 'foo'"));
        let e = Expr::parse("1 2", &[]).unwrap_err();
        assert_eq!((e.column, e.message.as_str()), (3, "unexpected '2'"));
        let e = Expr::parse("1.2.3", &[]).unwrap_err();
        assert_eq!(e.message, "'1.2.3' is not a number");
    }
}
