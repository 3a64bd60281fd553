import type { ErrorCatalog } from '../protocols/errors.js';

/**
 * The catalog of `devices/`: device specs, transports and drivers (the format: protocols/errors.ts).
 * Messages in the errors themselves name the device, URI parameter or command at fault.
 */
export const DEVICE_ERRORS = {
  SG_ERR_DEVICE_SPEC: 'A device spec is not NAME=DRIVER@URI, or names an unknown driver.',
  SG_ERR_DEVICE_URI: 'A device URI has an unknown scheme or a bad or unknown parameter (baudRate, parity, mode, beep, ...).',
  SG_ERR_DEVICE_NOT_FOUND: 'No device matches the URI (a hid://VID:PID that is not plugged in).',
  SG_ERR_DEVICE_NOT_CONNECTED: 'A command was sent to a device whose link is not open.',
  SG_ERR_DEVICE_TIMEOUT: 'A device did not answer a command in time (MT-SICS, RFID reader).',
  SG_ERR_SCALE_COMMAND: 'A scale refused or did not understand a command (MT-SICS ES/EL/ET replies).',
  SG_ERR_HID_UNAVAILABLE: 'node-hid is not installed or cannot load: hid:// devices fail, everything else runs.',
  SG_ERR_CONFIG: 'A device setting given by the configuration is invalid (named in the message).',
} as const satisfies ErrorCatalog;
