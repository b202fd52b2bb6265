//! Finding a GPU and opening it: which adapter a rank uses, the limits requested, and
//! one clear error where there is none or it lacks what volley needs.

use crate::error::Error;
use std::sync::{Arc, Mutex};

/// An open device and what it is.
pub struct Gpu {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub info: wgpu::AdapterInfo,
    pub limits: wgpu::Limits,
    /// The first error the device reported outside an error scope (a bug of volley's:
    /// every buffer and dispatch is sized against the limits before it is made).
    errors: Arc<Mutex<Option<String>>>,
}

/// Storage buffers the update pipeline binds in one stage (`shaders/update.wgsl`), the
/// most of volley's pipelines: WebGPU's guaranteed minimum, so every adapter has them.
pub const STORAGE_BUFFERS_NEEDED: u32 = 8;

/// The adapters of this machine, in the order wgpu lists them (Vulkan, then GL).
pub fn adapters() -> Vec<wgpu::Adapter> {
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
    pollster::block_on(instance.enumerate_adapters(wgpu::Backends::all()))
}

/// Whether an adapter is a real GPU, not a software driver (lavapipe, llvmpipe).
pub fn is_hardware(info: &wgpu::AdapterInfo) -> bool {
    !matches!(info.device_type, wgpu::DeviceType::Cpu)
}

/// One line per adapter: what `--backend gpu` can choose from.
pub fn describe(info: &wgpu::AdapterInfo) -> String {
    let kind = match info.device_type {
        wgpu::DeviceType::Cpu => "software",
        wgpu::DeviceType::DiscreteGpu => "discrete GPU",
        wgpu::DeviceType::IntegratedGpu => "integrated GPU",
        wgpu::DeviceType::VirtualGpu => "virtual GPU",
        wgpu::DeviceType::Other => "other",
    };
    format!("{} ({kind}, {:?}, driver {} {})", info.name, info.backend, info.driver, info.driver_info)
}

/// Whether the machine has a hardware GPU adapter.
pub fn hardware_present() -> bool {
    adapters().iter().any(|a| is_hardware(&a.get_info()))
}

/// Opens adapter number `index` among the hardware adapters, or where there is none and
/// `software` allows it, among the software ones; or names what is missing. An index
/// the user chose (`--gpu`, `chosen`) must exist; the default one (the rank's place on
/// its node) is taken modulo the adapters, so that ranks share the GPUs of a node.
pub fn open(index: usize, chosen: bool, software: bool) -> Result<Gpu, Error> {
    let (hardware, emulated): (Vec<wgpu::Adapter>, Vec<wgpu::Adapter>) = adapters().into_iter().partition(|a| is_hardware(&a.get_info()));
    let usable = if hardware.is_empty() && software { emulated } else { hardware };
    if usable.is_empty() {
        return Err(Error::Option {
            option: "--backend gpu".into(),
            message: "no GPU adapter found (no Vulkan, Metal, DX12 or GL driver answered; on Debian, `apt install \
                      mesa-vulkan-drivers libvulkan1` gives the lavapipe software driver): use --backend cpu"
                .into(),
        });
    }
    if chosen && index >= usable.len() {
        let listed: Vec<String> = usable.iter().enumerate().map(|(k, a)| format!("{k}: {}", describe(&a.get_info()))).collect();
        return Err(Error::Option {
            option: "--gpu".into(),
            message: format!("expected an adapter index below {}, got {index}; the adapters are {}", usable.len(), listed.join("; ")),
        });
    }
    let adapter = &usable[index % usable.len()];
    let info = adapter.get_info();
    let offered = adapter.limits();
    if offered.max_storage_buffers_per_shader_stage < STORAGE_BUFFERS_NEEDED {
        return Err(Error::Option {
            option: "--backend gpu".into(),
            message: format!(
                "the GPU {} binds {} storage buffers per shader stage, volley needs {STORAGE_BUFFERS_NEEDED}: use --backend cpu",
                describe(&info),
                offered.max_storage_buffers_per_shader_stage
            ),
        });
    }
    // Everything the adapter offers: the defaults cap a storage binding at 128 MiB and
    // buffers at 256 MiB, far below a GPU's memory.
    let descriptor = wgpu::DeviceDescriptor { label: Some("volley"), required_limits: offered.clone(), ..Default::default() };
    let (device, queue) = pollster::block_on(adapter.request_device(&descriptor)).map_err(|e| Error::Option {
        option: "--backend gpu".into(),
        message: format!("cannot open the GPU {}: {e}: use --backend cpu", describe(&info)),
    })?;
    let errors: Arc<Mutex<Option<String>>> = Arc::default();
    let seen = errors.clone();
    device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
        seen.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert_with(|| e.to_string());
    }));
    Ok(Gpu { device, queue, info, limits: offered, errors })
}

impl Gpu {
    /// Waits for the work submitted so far; panics with the device's error if it
    /// reported one (an internal error: a dispatch or buffer volley sized wrongly).
    pub fn wait(&self) {
        self.device.poll(wgpu::PollType::wait_indefinitely()).unwrap_or_else(|e| panic!("GPU {}: {e}", self.info.name));
        if let Some(e) = self.errors.lock().unwrap_or_else(|p| p.into_inner()).take() {
            panic!("GPU {}: {e}", describe(&self.info));
        }
    }

    /// A shader module from WGSL source, or the compiler's message.
    pub fn shader(&self, label: &str, source: &str) -> wgpu::ShaderModule {
        self.device
            .create_shader_module(wgpu::ShaderModuleDescriptor { label: Some(label), source: wgpu::ShaderSource::Wgsl(source.into()) })
    }

    /// A buffer of `bytes` (at least 4) bytes with `usage`.
    pub fn buffer(&self, label: &str, bytes: u64, usage: wgpu::BufferUsages) -> wgpu::Buffer {
        self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size: bytes.max(4).next_multiple_of(4),
            usage,
            mapped_at_creation: false,
        })
    }

    /// A storage buffer holding `data` (a one-word buffer for empty data: WGSL arrays are
    /// never empty).
    pub fn storage<T: bytemuck::Pod>(&self, label: &str, data: &[T], usage: wgpu::BufferUsages) -> wgpu::Buffer {
        let bytes: &[u8] = bytemuck::cast_slice(data);
        let buffer = self.buffer(label, bytes.len() as u64, wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST | usage);
        if !bytes.is_empty() {
            self.queue.write_buffer(&buffer, 0, bytes);
        }
        buffer
    }

    /// Reads `bytes` bytes of `buffer` from `offset` (the buffer needs COPY_SRC).
    pub fn read(&self, buffer: &wgpu::Buffer, offset: u64, bytes: u64) -> Vec<u8> {
        if bytes == 0 {
            return Vec::new();
        }
        let size = bytes.next_multiple_of(4);
        let staging = self.buffer("readback", size, wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST);
        let mut encoder = self.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("readback") });
        encoder.copy_buffer_to_buffer(buffer, offset, &staging, 0, size);
        self.queue.submit([encoder.finish()]);
        self.map_and_read(&staging, size, bytes)
    }

    /// Maps `staging` (filled by work already submitted) and copies out `bytes` bytes.
    pub fn map_and_read(&self, staging: &wgpu::Buffer, size: u64, bytes: u64) -> Vec<u8> {
        let slice = staging.slice(..size);
        slice.map_async(wgpu::MapMode::Read, |r| r.expect("a readback buffer maps"));
        self.wait();
        let data = slice.get_mapped_range().expect("mapped").to_vec();
        staging.unmap();
        data[..bytes as usize].to_vec()
    }
}
