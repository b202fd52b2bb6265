// Counter-based random numbers, bit for bit the Rust functions of src/rng.rs and
// src/gaussian.rs (a test holds them to each other): every number is a pure function
// of (seed, purpose, ids), so a GPU draws what the CPU draws for the same neuron and step.

// Threefry-2x32 with 20 rounds (Salmon et al., SC'11): rng::threefry2x32.
fn rotl32(x: u32, r: u32) -> u32 {
    return (x << r) | (x >> (32u - r));
}

fn threefry2x32(ctr: vec2<u32>, key: vec2<u32>) -> vec2<u32> {
    var ks = array<u32, 3>(key.x, key.y, 0x1BD11BDAu ^ key.x ^ key.y);
    var rotations = array<u32, 8>(13u, 15u, 26u, 6u, 17u, 29u, 16u, 24u);
    var x0 = ctr.x + ks[0];
    var x1 = ctr.y + ks[1];
    for (var group = 0u; group < 5u; group++) {
        for (var r = 0u; r < 4u; r++) {
            x0 = x0 + x1;
            x1 = rotl32(x1, rotations[(group % 2u) * 4u + r]);
            x1 = x1 ^ x0;
        }
        let i = group + 1u;
        x0 = x0 + ks[i % 3u];
        x1 = x1 + ks[(i + 1u) % 3u] + i;
    }
    return vec2<u32>(x0, x1);
}

// The standard normal of one random word by table inversion: gaussian::gaussian. The
// table (`gauss`: z at each bin's start, its rise over the bin) is gaussian::table().
// The one multiply-add may be fused here and not on the CPU: within an ulp.
fn gaussian(bits: u32) -> f32 {
    let k = (bits & 0x7FFFFFFFu) >> 7u;
    let t = f32(i32(k)) * (1.0 / 33554432.0) + (1.0 / 67108864.0);
    let tb = bitcast<u32>(t);
    let bin = (tb >> 16u) - (101u << 7u);
    let frac = f32(i32(tb & 0xFFFFu)) * (1.0 / 65536.0);
    let entry = gauss[bin];
    let z = entry.x + frac * entry.y;
    return bitcast<f32>(bitcast<u32>(z) ^ (bits & 0x80000000u));
}

// The noise normal of neuron `gid` (lo, hi words) in noise stream `stream` at step
// (lo, hi words) for a run whose noise key is `key` (rng::key_for(seed, Noise)):
// rng::noise_normal.
fn noise_normal(key: vec2<u32>, stream: u32, step_lo: u32, step_hi: u32, gid_lo: u32, gid_hi: u32) -> f32 {
    let k = vec2<u32>(key.x ^ (stream * 0x85EBCA6Bu), key.y ^ (step_hi * 0x9E3779B9u));
    let pair = (gid_lo >> 1u) | (gid_hi << 31u);
    let words = threefry2x32(vec2<u32>(step_lo, pair), k);
    return gaussian(select(words.y, words.x, (gid_lo & 1u) == 0u));
}
