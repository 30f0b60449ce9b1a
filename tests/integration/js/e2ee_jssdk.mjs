// End-to-end encryption with matrix-js-sdk and its Rust crypto (@matrix-org/matrix-sdk-crypto-wasm,
// the stack under Element Web) against a running conclave. Driven by ../jssdk_test.py, which
// installs this directory's package-lock.json and runs this file with the Node 22 it brings.
//
// Usage: node e2ee_jssdk.mjs HOMESERVER_URL [EXTRA_INVITEE]
// alice and bob register, log in (new devices), start Rust crypto with an in-memory store and
// bootstrap cross-signing (no key backup, no secret storage). alice creates a room with
// m.room.encryption (m.megolm.v1.aes-sha2) and invites bob (and EXTRA_INVITEE, a nio client the
// Python side runs); bob joins; once everyone has joined, alice sends a message which bob must
// decrypt, and bob answers with one alice must decrypt. Every HTTP exchange with a status >= 400
// is recorded. The last stdout line is a JSON report; the exit status is 0 only if every step
// passed.
import * as sdk from "matrix-js-sdk";
import { logger } from "matrix-js-sdk/lib/logger.js";

logger.setLevel(process.env.JSSDK_LOG_LEVEL || "warn");

const [baseUrl, extraInvitee] = process.argv.slice(2);
const PASSWORD = "correct horse battery staple";
const STEP_TIMEOUT_MS = 30000;
const failures = [];
const requests = {};
const report = { steps: [], failures, requests };

function step(name) {
  report.steps.push(name);
  console.error(`jssdk: ${name}`);
}

// Counts the SDK's HTTP exchanges per endpoint and records every failed one (method, path without
// the query, status, errcode); passes the response on unchanged.
async function recordingFetch(input, init) {
  const response = await fetch(input, init);
  const url = new URL(input instanceof Request ? input.url : String(input));
  const path = url.pathname.replace(/\/(!|%21|@|%40)[^/]*/g, "/{id}")
    .replace(/\/(send|sendToDevice)\/([^/]+)\/[^/]+$/, "/$1/$2/{txnId}");
  const endpoint = `${init?.method || "GET"} ${path}`;
  requests[endpoint] = (requests[endpoint] || 0) + 1;
  if (response.status >= 400) {
    let errcode = "";
    try {
      errcode = (await response.clone().json()).errcode || "";
    } catch {}
    failures.push({ method: init?.method || "GET", path: url.pathname, status: response.status,
                    errcode });
  }
  return response;
}

async function raw(method, path, body, token) {
  const response = await fetch(`${baseUrl}/_matrix/client/v3${path}`, {
    method, body: JSON.stringify(body),
    headers: { "Content-Type": "application/json",
               ...(token ? { Authorization: `Bearer ${token}` } : {}) },
  });
  const json = await response.json();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(json)}`);
  return json;
}

// Resolves with `check()`'s first truthy value, checked now and on each of `emitter`'s `events`.
function until(what, emitter, events, check) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { cleanup(); reject(new Error(`timed out: ${what}`)); },
                             STEP_TIMEOUT_MS);
    const poll = async () => {
      try {
        const value = await check();
        if (value) { cleanup(); resolve(value); }
      } catch (e) { cleanup(); reject(e); }
    };
    const cleanup = () => {
      clearTimeout(timer);
      for (const e of events) emitter.off(e, poll);
    };
    for (const e of events) emitter.on(e, poll);
    poll();
  });
}

async function newClient(localpart) {
  await raw("POST", "/register", { username: localpart, password: PASSWORD,
                                   auth: { type: "m.login.dummy" }, inhibit_login: true });
  const login = await sdk.createClient({ baseUrl, fetchFn: recordingFetch }).loginRequest({
    type: "m.login.password", identifier: { type: "m.id.user", user: localpart },
    password: PASSWORD, initial_device_display_name: `${localpart} js-sdk`,
  });
  const client = sdk.createClient({ baseUrl, fetchFn: recordingFetch, userId: login.user_id,
                                    deviceId: login.device_id, accessToken: login.access_token });
  await client.initRustCrypto({ useIndexedDB: false });
  client.startClient({ initialSyncLimit: 20 });
  await until(`${localpart}'s first sync`, client, [sdk.ClientEvent.Sync],
              () => client.isInitialSyncComplete());
  const crypto = client.getCrypto();
  await crypto.bootstrapCrossSigning({
    authUploadDeviceSigningKeys: async (makeRequest) => {
      await makeRequest({ type: "m.login.password", password: PASSWORD,
                          identifier: { type: "m.id.user", user: localpart } });
    },
  });
  const status = await crypto.getCrossSigningStatus();
  if (!status.publicKeysOnDevice) {
    throw new Error(`${localpart}: cross-signing not set up: ${JSON.stringify(status)}`);
  }
  step(`${localpart} logged in as ${login.device_id}, cross-signing ready`);
  return client;
}

function membership(client, roomId, userId) {
  return client.getRoom(roomId)?.getMember(userId)?.membership;
}

// The first event of `type` with body `body` in the room's live timeline, decrypted.
async function received(client, roomId, body) {
  const room = client.getRoom(roomId);
  if (!room) return null;
  for (const event of room.getLiveTimeline().getEvents()) {
    if (!event.isEncrypted()) continue;
    await client.decryptEventIfNeeded(event);
    if (event.isDecryptionFailure()) continue;
    if (event.getType() === "m.room.message" && event.getContent().body === body) return event;
  }
  return null;
}

async function exchange(sender, receiver, roomId, body) {
  await sender.sendMessage(roomId, { msgtype: "m.text", body });
  const event = await until(`${receiver.getUserId()} decrypts "${body}"`, receiver,
                            [sdk.RoomEvent.Timeline, sdk.MatrixEventEvent.Decrypted],
                            () => received(receiver, roomId, body));
  const info = await receiver.getCrypto().getEncryptionInfoForEvent(event);
  step(`${receiver.getUserId()} decrypted "${body}" from ${event.getSender()}` +
       ` (shield ${info?.shieldColour})`);
}

async function main() {
  const alice = await newClient("alice");
  const bob = await newClient("bob");
  const invite = [bob.getUserId(), ...(extraInvitee ? [extraInvitee] : [])];
  const { room_id: roomId } = await alice.createRoom({
    invite, initial_state: [{ type: "m.room.encryption", state_key: "",
                              content: { algorithm: "m.megolm.v1.aes-sha2" } }],
  });
  report.room_id = roomId;
  step(`alice created ${roomId}`);
  await until("bob's invite", bob, [sdk.ClientEvent.Room, sdk.RoomMemberEvent.Membership],
              () => membership(bob, roomId, bob.getUserId()) === "invite");
  await bob.joinRoom(roomId);
  for (const userId of invite) {
    await until(`${userId}'s join`, alice, [sdk.RoomMemberEvent.Membership],
                () => membership(alice, roomId, userId) === "join");
  }
  if (!(await alice.getCrypto().isEncryptionEnabledInRoom(roomId))) {
    throw new Error("alice's crypto does not see the room as encrypted");
  }
  step("everyone joined");
  await exchange(alice, bob, roomId, "hello bob, from js-sdk");
  await exchange(bob, alice, roomId, "hi alice, js-sdk too");
  report.ok = true;
  for (const c of [alice, bob]) c.stopClient();
}

main().catch((e) => {
  report.ok = false;
  report.error = String(e?.stack || e);
}).finally(() => {
  console.log(JSON.stringify(report));
  process.exit(report.ok ? 0 : 1);
});
