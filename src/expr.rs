//! The small expression language of model files: per-neuron parameters as functions
//! of a uniform `r` (e.g. `-65 + 15*r^2`), synaptic weights as functions of a uniform `u`.
//!
//! Grammar: numbers, names, `+ - * / ^`, unary minus, parentheses, and the functions
//! `sqrt exp ln log abs probit min max`. `^` binds tighter than unary minus (`-r^2` = −(r²)),
//! as in MATLAB and Python. Evaluated in f64.
//!
//! An expression is compiled once into a flat postfix program and evaluated on a value
//! stack of known depth: nothing recurses over the input at evaluation (or when the
//! program is dropped), so no expression can overflow a thread's stack. The parser's own
//! recursion is bounded by `MAX_NESTING`, and the text by `MAX_LENGTH`: a model file that
//! exceeds either gets an error naming the limit.

use std::fmt;

/// Deepest nesting of parentheses, unary signs, powers and function calls accepted.
pub const MAX_NESTING: usize = 64;
/// Longest expression accepted, in characters.
pub const MAX_LENGTH: usize = 65_536;

/// One instruction of a compiled expression: push a value, or pop operands and push the
/// result.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Op {
    Number(f64),
    Var(usize),
    Neg,
    Add,
    Sub,
    Mul,
    Div,
    Pow,
    Sqrt,
    Exp,
    Ln,
    Abs,
    Probit,
    Min,
    Max,
}

/// The standard normal's quantile (inverse CDF) by Acklam's rational approximations,
/// relative error below 1.2·10⁻⁹: `probit(r)` turns a neuron's uniform into a normal
/// (the microcircuit's initial voltages). Finite on all of [0, 1]: within 2⁻⁵³ of either
/// end it takes the value there (±8.29), so that every uniform, r = 0 included, gives a
/// finite value; NaN outside [0, 1].
pub fn probit(p: f64) -> f64 {
    const A: [f64; 6] =
        [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
    const B: [f64; 5] = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
    const C: [f64; 6] =
        [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
    const D: [f64; 4] = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
    const LOW: f64 = 0.02425;
    if !(0.0..=1.0).contains(&p) {
        return f64::NAN;
    }
    const END: f64 = 1.0 / 9_007_199_254_740_992.0;
    let p = p.clamp(END, 1.0 - END);
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5]) / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < LOW {
        tail((-2.0 * p.ln()).sqrt())
    } else if p <= 1.0 - LOW {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    }
}

impl Op {
    fn function(name: &str) -> Option<(Op, usize)> {
        Some(match name {
            "sqrt" => (Op::Sqrt, 1),
            "exp" => (Op::Exp, 1),
            "ln" | "log" => (Op::Ln, 1),
            "abs" => (Op::Abs, 1),
            "probit" => (Op::Probit, 1),
            "min" => (Op::Min, 2),
            "max" => (Op::Max, 2),
            _ => return None,
        })
    }

    /// Values taken from the stack.
    fn arity(self) -> usize {
        match self {
            Op::Number(_) | Op::Var(_) => 0,
            Op::Neg | Op::Sqrt | Op::Exp | Op::Ln | Op::Abs | Op::Probit => 1,
            Op::Add | Op::Sub | Op::Mul | Op::Div | Op::Pow | Op::Min | Op::Max => 2,
        }
    }

    #[inline]
    fn unary(self, x: f64) -> f64 {
        match self {
            Op::Neg => -x,
            Op::Sqrt => x.sqrt(),
            Op::Exp => x.exp(),
            Op::Ln => x.ln(),
            Op::Abs => x.abs(),
            Op::Probit => probit(x),
            _ => unreachable!("not a unary op"),
        }
    }

    #[inline]
    fn binary(self, a: f64, b: f64) -> f64 {
        match self {
            Op::Add => a + b,
            Op::Sub => a - b,
            Op::Mul => a * b,
            Op::Div => a / b,
            Op::Pow => pow(a, b),
            Op::Min => a.min(b),
            Op::Max => a.max(b),
            _ => unreachable!("not a binary op"),
        }
    }
}

/// A compiled expression whose variables are resolved to slots of a value array.
#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    program: Vec<Op>,
    /// The most values on the stack at once.
    depth: usize,
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

/// Values evaluated together by `eval_batch`, per stack entry.
const LANES: usize = 256;

impl Expr {
    /// Parses and compiles `text`; `names` are the variables it may use, in slot order.
    pub fn parse(text: &str, names: &[&str]) -> Result<Expr, ExprError> {
        let length = text.chars().count();
        if length > MAX_LENGTH {
            return Err(ExprError { column: 1, message: format!("expected at most {MAX_LENGTH} characters, got {length}") });
        }
        let mut parser = Parser { chars: text.char_indices().collect(), pos: 0, names, text, nesting: 0, program: Vec::new() };
        parser.sum()?;
        parser.skip_space();
        if parser.pos < parser.chars.len() {
            return Err(parser.error(format!("unexpected '{}'", parser.chars[parser.pos].1)));
        }
        let program = parser.program;
        let (mut depth, mut height) = (0usize, 0usize);
        for op in &program {
            height = height + 1 - op.arity();
            depth = depth.max(height);
        }
        debug_assert_eq!(height, 1, "a well-formed program leaves one value");
        Ok(Expr { program, depth })
    }

    /// The constant `x`.
    pub fn number(x: f64) -> Expr {
        Expr { program: vec![Op::Number(x)], depth: 1 }
    }

    /// The value for the variable values `vars` (in the slot order given to `parse`).
    pub fn eval(&self, vars: &[f64]) -> f64 {
        const SMALL: usize = 32;
        if self.depth <= SMALL {
            let mut stack = [0f64; SMALL];
            run(&self.program, vars, &mut stack)
        } else {
            run(&self.program, vars, &mut vec![0f64; self.depth])
        }
    }

    /// The expression's value if it uses no variable.
    pub fn constant(&self) -> Option<f64> {
        (!self.program.iter().any(|op| matches!(op, Op::Var(_)))).then(|| self.eval(&[]))
    }

    /// Evaluates the expression `n` times, variable slot `i` taking its values from
    /// `vars[i]`, instruction by instruction over lanes of values, so that the program is
    /// read once per lane block, not once per value. Gives exactly the values of `eval`.
    pub fn eval_batch(&self, n: usize, vars: &[Vec<f64>], out: &mut Vec<f64>) {
        out.clear();
        out.reserve(n);
        let mut stack = vec![0f64; self.depth * LANES];
        for start in (0..n).step_by(LANES) {
            let lanes = LANES.min(n - start);
            let mut top = 0;
            for op in &self.program {
                match *op {
                    Op::Number(x) => {
                        stack[top * LANES..top * LANES + lanes].fill(x);
                        top += 1;
                    }
                    Op::Var(i) => {
                        stack[top * LANES..top * LANES + lanes].copy_from_slice(&vars[i][start..start + lanes]);
                        top += 1;
                    }
                    op if op.arity() == 1 => {
                        stack[(top - 1) * LANES..(top - 1) * LANES + lanes].iter_mut().for_each(|x| *x = op.unary(*x));
                    }
                    op => {
                        let (low, high) = stack.split_at_mut((top - 1) * LANES);
                        let a = &mut low[(top - 2) * LANES..(top - 2) * LANES + lanes];
                        a.iter_mut().zip(&high[..lanes]).for_each(|(a, &b)| *a = op.binary(*a, b));
                        top -= 1;
                    }
                }
            }
            out.extend_from_slice(&stack[..lanes]);
        }
    }

    /// The expression as one WGSL f32 expression, variable slot i read as `vars[i]`:
    /// the GPU evaluates a weight in f32 where the CPU does in f64 (so within f32
    /// rounding of the CPU's value, not its bits). Integer powers up to 16 call `powi`,
    /// which the shader must define (shaders/connectivity.wgsl does).
    pub fn to_wgsl(&self, vars: &[&str]) -> String {
        let literal = |x: f64| {
            let x = x as f32;
            if x.is_finite() {
                format!("f32({x:?})")
            } else {
                format!("bitcast<f32>({}u)", x.to_bits())
            }
        };
        let mut stack: Vec<(String, Option<f64>)> = Vec::new();
        for op in &self.program {
            let item = match *op {
                Op::Number(x) => (literal(x), Some(x)),
                Op::Var(i) => (vars[i].to_string(), None),
                op if op.arity() == 1 => {
                    let (a, a_value) = stack.pop().expect("well-formed");
                    if op == Op::Neg {
                        stack.push((format!("(-{a})"), a_value.map(|x| -x)));
                        continue;
                    }
                    let text = match op {
                        Op::Sqrt => format!("sqrt({a})"),
                        Op::Exp => format!("exp({a})"),
                        Op::Ln => format!("log({a})"),
                        Op::Probit => format!("probit({a})"),
                        _ => format!("abs({a})"),
                    };
                    (text, None)
                }
                op => {
                    let (b, b_value) = stack.pop().expect("well-formed");
                    let (a, _) = stack.pop().expect("well-formed");
                    let text = match op {
                        Op::Add => format!("({a} + {b})"),
                        Op::Sub => format!("({a} - {b})"),
                        Op::Mul => format!("({a} * {b})"),
                        Op::Div => format!("({a} / {b})"),
                        Op::Min => format!("min({a}, {b})"),
                        Op::Max => format!("max({a}, {b})"),
                        _ => match b_value {
                            Some(n) if n.fract() == 0.0 && n.abs() <= 16.0 => format!("powi({a}, {})", n as i32),
                            _ => format!("pow({a}, {b})"),
                        },
                    };
                    (text, None)
                }
            };
            stack.push(item);
        }
        stack.pop().expect("well-formed").0
    }

    /// The number of variable slots the expression reads: one more than the highest used.
    pub fn slots_used(&self) -> usize {
        self.program.iter().filter_map(|op| if let Op::Var(i) = op { Some(i + 1) } else { None }).max().unwrap_or(0)
    }
}

/// Runs `program` on `stack`, which holds at least its depth.
#[inline]
fn run(program: &[Op], vars: &[f64], stack: &mut [f64]) -> f64 {
    let mut top = 0;
    for op in program {
        match *op {
            Op::Number(x) => {
                stack[top] = x;
                top += 1;
            }
            Op::Var(i) => {
                stack[top] = vars[i];
                top += 1;
            }
            op if op.arity() == 1 => stack[top - 1] = op.unary(stack[top - 1]),
            op => {
                stack[top - 2] = op.binary(stack[top - 2], stack[top - 1]);
                top -= 1;
            }
        }
    }
    stack[0]
}

/// Integer powers as repeated products, so that r^2 is exactly r*r (net.m's r.^2).
fn pow(a: f64, b: f64) -> f64 {
    if b.fract() == 0.0 && b.abs() <= 16.0 {
        a.powi(b as i32)
    } else {
        a.powf(b)
    }
}

struct Parser<'a> {
    chars: Vec<(usize, char)>,
    pos: usize,
    names: &'a [&'a str],
    text: &'a str,
    /// Current depth of nested parentheses, signs, powers and calls.
    nesting: usize,
    program: Vec<Op>,
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

    /// Enters one level of nesting, refusing to go deeper than `MAX_NESTING`.
    fn nest(&mut self) -> Result<(), ExprError> {
        self.nesting += 1;
        if self.nesting > MAX_NESTING {
            return Err(self.error(format!("nested deeper than {MAX_NESTING} levels (parentheses, signs, powers and function calls)")));
        }
        Ok(())
    }

    fn sum(&mut self) -> Result<(), ExprError> {
        self.product()?;
        while let Some(c @ ('+' | '-')) = self.peek() {
            self.pos += 1;
            self.product()?;
            self.program.push(if c == '+' { Op::Add } else { Op::Sub });
        }
        Ok(())
    }

    fn product(&mut self) -> Result<(), ExprError> {
        self.unary()?;
        while let Some(c @ ('*' | '/')) = self.peek() {
            self.pos += 1;
            self.unary()?;
            self.program.push(if c == '*' { Op::Mul } else { Op::Div });
        }
        Ok(())
    }

    fn unary(&mut self) -> Result<(), ExprError> {
        match self.peek() {
            Some(c @ ('-' | '+')) => {
                self.pos += 1;
                self.nest()?;
                self.unary()?;
                self.nesting -= 1;
                if c == '-' {
                    self.program.push(Op::Neg);
                }
                Ok(())
            }
            _ => self.power(),
        }
    }

    fn power(&mut self) -> Result<(), ExprError> {
        self.atom()?;
        if self.peek() == Some('^') {
            self.pos += 1;
            // Right-associative; the exponent may carry its own sign.
            self.nest()?;
            self.unary()?;
            self.nesting -= 1;
            self.program.push(Op::Pow);
        }
        Ok(())
    }

    fn atom(&mut self) -> Result<(), ExprError> {
        let Some(c) = self.peek() else {
            return Err(self.error("expected a number, a name or '(' but the expression ends".into()));
        };
        if c == '(' {
            self.pos += 1;
            self.nest()?;
            self.sum()?;
            self.expect(')')?;
            self.nesting -= 1;
            return Ok(());
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
                let Some((func, arity)) = Op::function(&name) else {
                    return Err(ExprError {
                        column: start + 1,
                        message: format!("unknown function '{name}' (known: sqrt, exp, ln, log, abs, probit, min, max)"),
                    });
                };
                self.pos += 1;
                self.nest()?;
                self.sum()?;
                let mut args = 1;
                while self.peek() == Some(',') {
                    self.pos += 1;
                    self.sum()?;
                    args += 1;
                }
                if args != arity {
                    return Err(ExprError { column: start + 1, message: format!("'{name}' takes {arity} argument(s), got {args}") });
                }
                self.expect(')')?;
                self.nesting -= 1;
                self.program.push(func);
                return Ok(());
            }
            return match self.names.iter().position(|n| *n == name) {
                Some(slot) => {
                    self.program.push(Op::Var(slot));
                    Ok(())
                }
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

    fn number(&mut self) -> Result<(), ExprError> {
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
        let text: &str = self.text;
        let byte_end = self.chars.get(self.pos).map_or(text.len(), |c| c.0);
        let literal = &text[byte_start..byte_end];
        let x = literal.parse::<f64>().map_err(|_| ExprError { column: start + 1, message: format!("'{literal}' is not a number") })?;
        self.program.push(Op::Number(x));
        Ok(())
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

/// An expression quoted for an error: whole when short, else at most `WINDOW`
/// characters either side of character `column` (1-based, the fault), with "…" where
/// cut and where that part lies — a 10 MB expression would otherwise make a 10 MB line.
pub fn quote(text: &str, column: usize) -> String {
    const WINDOW: usize = 30;
    let chars: Vec<char> = text.chars().collect();
    if chars.len() <= 2 * WINDOW + 20 {
        return format!("'{text}'");
    }
    let at = column.saturating_sub(1).min(chars.len());
    let (from, to) = (at.saturating_sub(WINDOW), (at + WINDOW).min(chars.len()));
    let part: String = chars[from..to].iter().collect();
    let (open, close) = (if from > 0 { "…" } else { "" }, if to < chars.len() { "…" } else { "" });
    format!("'{open}{part}{close}' (characters {}..{} of {})", from + 1, to, chars.len())
}

#[cfg(test)]
mod tests {

    #[test]
    fn long_expressions_are_quoted_around_their_fault() {
        assert_eq!(quote("1 + r", 3), "'1 + r'");
        let long = format!("{}2 * * 3{}", "1+".repeat(100), "+1".repeat(100));
        let quoted = quote(&long, 205);
        assert!(quoted.starts_with("'…") && quoted.contains("2 * * 3") && quoted.ends_with("…' (characters 175..234 of 407)"), "{quoted}");
    }
    use super::*;

    /// probit against known quantiles (both tails and the centre), and as an expression.
    #[test]
    fn probit_is_the_normal_quantile() {
        for (p, z) in [
            (0.5, 0.0),
            (0.975, 1.959_963_984_540_054),
            (0.001, -3.090_232_306_167_813_7),
            (0.841_344_746_068_542_9, 1.0),
            (1e-10, -6.361_340_902_404_056),
        ] {
            assert!((probit(p) - z).abs() < 1.2e-9 * z.abs().max(1.0), "probit({p}) = {}, expected {z}", probit(p));
        }
        assert_eq!(probit(0.0), probit(1.0 / 9_007_199_254_740_992.0));
        assert!(probit(0.0) < -8.2 && probit(0.0) > -8.4 && probit(1.0) > 8.0 && probit(1.0).is_finite());
        assert!(probit(1.5).is_nan());
        let e = Expr::parse("-63.33 + 4.74*probit(r)", &["r"]).unwrap();
        assert!((e.eval(&[0.975]) - (-63.33 + 4.74 * 1.959_963_984_540_054)).abs() < 1e-8);
    }

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
    fn long_flat_expressions_evaluate_without_recursion() {
        // 30,000 terms: a tree walk would recurse 30,000 deep; the program does not.
        let text = vec!["u"; 30_000].join("+");
        let e = Expr::parse(&text, &["u"]).unwrap();
        assert_eq!(e.eval(&[0.5]), 15_000.0);
        let mut out = Vec::new();
        e.eval_batch(3, &[vec![0.0, 1.0, 2.0]], &mut out);
        assert_eq!(out, vec![0.0, 30_000.0, 60_000.0]);
        // Evaluated on a thread with a small stack, as the shard threads are.
        let sum = std::thread::Builder::new().stack_size(64 * 1024).spawn(move || e.eval(&[1.0])).unwrap().join().unwrap();
        assert_eq!(sum, 30_000.0);
    }

    #[test]
    fn nesting_and_length_have_limits() {
        let limit = format!("nested deeper than {MAX_NESTING} levels (parentheses, signs, powers and function calls)");
        for text in [
            format!("{}1{}", "(".repeat(10_000), ")".repeat(10_000)),
            format!("{}r", "-".repeat(10_000)),
            format!("r{}", "^r".repeat(10_000)),
            format!("{}1{}", "sqrt(".repeat(100), ")".repeat(100)),
        ] {
            let e = Expr::parse(&text, &["r"]).unwrap_err();
            assert_eq!(e.message, limit, "{}", &text[..20]);
            assert!(e.column > MAX_NESTING && e.column < 6 * MAX_NESTING, "points where the limit was passed: {}", e.column);
        }
        // At the limit it still parses.
        let text = format!("{}1{}", "(".repeat(MAX_NESTING), ")".repeat(MAX_NESTING));
        assert_eq!(Expr::parse(&text, &[]).unwrap().constant(), Some(1.0));
        let huge = "1+".repeat(5_000_000) + "1";
        let e = Expr::parse(&huge, &[]).unwrap_err();
        assert_eq!(e.message, format!("expected at most {MAX_LENGTH} characters, got 10000001"));
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
