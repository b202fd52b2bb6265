// Noise normals, bit for bit (within an ulp) rng::noise_normal and gaussian::gaussian of
// the CPU. Needs rng.wgsl and the Gaussian table bound as `gauss`.

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
