// Synapses drawn on the GPU, bit for bit as src/rng.rs and src/connectivity/generate.rs
// draw them on the CPU (a test holds them to each other): the j-th synapse of a row takes
// its other end from Threefry block (j, 0) under the row's key, its weight's uniforms
// from blocks (j, 1..3) and its delay from block (j, 4). Needs rng.wgsl.

// The 64-bit product of two u32 as (high, low) words, from 16-bit halves: WGSL has no
// 64-bit integers.
fn mul_wide(a: u32, b: u32) -> vec2<u32> {
    let a0 = a & 0xFFFFu;
    let a1 = a >> 16u;
    let b0 = b & 0xFFFFu;
    let b1 = b >> 16u;
    let p00 = a0 * b0;
    let p01 = a0 * b1;
    let p10 = a1 * b0;
    let mid = (p00 >> 16u) + (p01 & 0xFFFFu) + (p10 & 0xFFFFu);
    let low = (p00 & 0xFFFFu) | (mid << 16u);
    let high = a1 * b1 + (p01 >> 16u) + (p10 >> 16u) + (mid >> 16u);
    return vec2<u32>(high, low);
}

// A uniform integer in [0, n) from a block (first word high): rng::below, exactly
// floor(bits · n / 2^64).
fn below(words: vec2<u32>, n: u32) -> u32 {
    let high = mul_wide(words.x, n);
    let low = mul_wide(words.y, n).x;
    let sum = high.y + low;
    return high.x + select(0u, 1u, sum < low);
}

// The key of the row of neuron gid (< 2^32) under a projection's key: rng::row_key.
fn row_key(projection_key: vec2<u32>, gid: u32) -> vec2<u32> {
    return threefry2x32(vec2<u32>(gid, 0u), projection_key);
}

// Block (j, lane) of a row.
fn synapse_block(key: vec2<u32>, j: u32, lane: u32) -> vec2<u32> {
    return threefry2x32(vec2<u32>(j, lane), key);
}

// The f32 uniform in [0, 1) of a block: the CPU's 53-bit uniform (rng::unit_f64)
// truncated to its first 24 bits.
fn unit_f32(words: vec2<u32>) -> f32 {
    return f32(words.x >> 8u) * (1.0 / 16777216.0);
}

// x^n for an integer n, as repeated products (expr.rs's pow for integer exponents).
fn powi(x: f32, n: i32) -> f32 {
    var result = 1.0;
    for (var k = 0; k < abs(n); k++) {
        result = result * x;
    }
    return select(result, 1.0 / result, n < 0);
}

// The standard normal's quantile, Acklam's approximation (src/expr.rs `probit`), in f32.
fn probit_tail(q: f32) -> f32 {
    let num = ((((-7.784894002430293e-3 * q - 3.223964580411365e-1) * q - 2.400758277161838) * q - 2.549732539343734) * q + 4.374664141464968) * q + 2.938163982698783;
    let den = (((7.784695709041462e-3 * q + 3.224671290700398e-1) * q + 2.445134137142996) * q + 3.754408661907416) * q + 1.0;
    return num / den;
}

fn probit(p_in: f32) -> f32 {
    // Finite at the ends, as on the CPU (there clamped 2^-53 from them, here 2^-24).
    let p = clamp(p_in, 5.9604645e-8, 1.0 - 5.9604645e-8);
    if p < 0.02425 {
        return probit_tail(sqrt(-2.0 * log(p)));
    }
    if p > 1.0 - 0.02425 {
        return -probit_tail(sqrt(-2.0 * log(1.0 - p)));
    }
    let q = p - 0.5;
    let r = q * q;
    let num = (((((-3.969683028665376e1 * r + 2.209460984245205e2) * r - 2.759285104469687e2) * r + 1.383577518672690e2) * r - 3.066479806614716e1) * r + 2.506628277459239) * q;
    let den = ((((-5.447609879822406e1 * r + 1.615858368580409e2) * r - 1.556989798598866e2) * r + 6.680131188771972e1) * r - 1.328068155288572e1) * r + 1.0;
    return num / den;
}
