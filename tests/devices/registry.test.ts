import { describe, expect, it } from 'vitest';
import { createDriver, createTransport, drivers, parseDeviceSpec, profiles } from '../../devices/registry.js';
import { SerialTransport } from '../../devices/serial.js';
import { TcpTransport } from '../../devices/tcp.js';
import { MemoryTransport } from '../../devices/memory.js';
import { resolveParams } from '../../devices/params.js';

describe('device registry', () => {
  it('has a declarative profile for every driver, and the driver carries it', () => {
    expect(Object.keys(profiles).sort()).toEqual(Object.keys(drivers).sort());
    expect(Object.keys(drivers).sort()).toEqual(
      ['rfid-m100', 'rfid-uhfreader18', 'scale-ascii', 'scale-mt-sics', 'scale-toledo', 'scale-xk3190', 'scanner', 'scanner-hid'].sort(),
    );
    for (const [name, make] of Object.entries(drivers)) {
      const d = make();
      expect(d.profile).toBe(profiles[name]);
      expect(d.profile.driver).toBe(name);
      expect(['scan', 'weight', 'tag']).toContain(d.profile.reads);
      // Defaults are valid values of their own parameters.
      expect(() => resolveParams(d.profile, {})).not.toThrow();
    }
    expect(profiles['scale-toledo']!.line).toMatchObject({ dataBits: 7, parity: 'even' });
    expect(profiles['rfid-uhfreader18']!.line!.baudRate).toBe(57600);
    expect(profiles['rfid-m100']!.line!.baudRate).toBe(115200);
  });

  it('splits driver parameters from transport parameters and validates both at parse time', () => {
    const s = parseDeviceSpec('scale1=scale-mt-sics@serial:///dev/serial/by-id/usb-MT_Scale-if00?baudRate=19200&mode=sir&intervalMs=500');
    expect(s).toEqual({
      name: 'scale1',
      driver: 'scale-mt-sics',
      uri: 'serial:///dev/serial/by-id/usb-MT_Scale-if00?baudRate=19200&mode=sir&intervalMs=500',
      transportUri: 'serial:///dev/serial/by-id/usb-MT_Scale-if00?baudRate=19200',
      params: { mode: 'sir', intervalMs: '500' },
    });
    expect(() => parseDeviceSpec('s=scale-mt-sics@serial:///dev/x?intervalMs=5')).toThrow(/intervalMs=5 is not a whole number 20..60000/);
    expect(() => parseDeviceSpec('s=scale-mt-sics@serial:///dev/x?mode=stream')).toThrow(/mode=stream is not one of poll\|sir/);
    expect(() => parseDeviceSpec('s=scanner@serial:///dev/x?layout=newland')).toThrow(/unknown parameter 'layout'/);
    expect(() => parseDeviceSpec('s=scanner@serial:///dev/x?beep=zebra')).toThrow(/beep=zebra/);
    expect(() => parseDeviceSpec('s=toaster@serial:///dev/x')).toThrow(/unknown driver 'toaster'/);
    expect(() => parseDeviceSpec('s=scanner@ftp://x')).toThrow(/unknown scheme 'ftp'/);
    try {
      parseDeviceSpec('s=scanner@serial:///dev/x?dataBits=9');
    } catch (err) {
      expect(err).toMatchObject({ code: 'SG_ERR_DEVICE_URI' });
    }
  });

  it('picks the transport by URI scheme, with the profile line settings as defaults', () => {
    expect(createTransport('serial:///dev/ttyUSB0', profiles['scale-toledo']!.line)).toBeInstanceOf(SerialTransport);
    expect(createTransport('tcp://192.168.1.50:4001')).toBeInstanceOf(TcpTransport);
    expect(createTransport('memory://reg-test')).toBeInstanceOf(MemoryTransport);
    // The edge's older call passes the full URI: driver parameters are ignored by the transport.
    expect(createTransport('serial:///dev/ttyUSB0?mode=sir&baudRate=4800')).toBeInstanceOf(SerialTransport);
    expect(() => createTransport('serial:///dev/ttyUSB0?speed=fast')).toThrow(/unknown parameter 'speed'/);
  });

  it('builds drivers with their parameters', () => {
    const d = createDriver(parseDeviceSpec('s=scale-mt-sics@memory://x?mode=sir'));
    expect((d as unknown as { mode: string }).mode).toBe('sir');
  });
});
