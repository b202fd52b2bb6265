// Counter-based random numbers, bit for bit the Rust function of src/rng.rs (a test holds
// them to each other): every number is a pure function of (seed, purpose, ids), so a GPU
// draws what the CPU draws for the same neuron, step or synapse.

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
