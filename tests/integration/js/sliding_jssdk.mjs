// matrix-js-sdk in sliding sync mode (its SlidingSync and SlidingSyncSdk, with the extensions it
// registers: to_device, e2ee, account_data, receipts, typing) against a running conclave. Driven
// by ../sliding_jssdk_test.py, which installs this directory's package-lock.json and runs this file
// with the Node 22 it brings.
//
// Usage: node sliding_jssdk.mjs HOMESERVER_URL
// alice registers and creates ROOMS named rooms, bob joins the oldest. alice's js-sdk client
// syncs with one list of range [0, 9]: it must hold the 10 newest rooms, by name, and the list's
// count must be ROOMS. The range then grows to the whole list: every room arrives. bob sends into
// the oldest room: alice's client must see the message in that room's live timeline, and bob's
// typing notice through the typing extension. Every HTTP exchange with a status >= 400 is
// recorded. The last stdout line is a JSON report; the exit status is 0 only if every step passed
// (failed HTTP exchanges are listed in the report, for the caller to judge).
import * as sdk from "matrix-js-sdk";
import { logger } from "matrix-js-sdk/lib/logger.js";
import { SlidingSync } from "matrix-js-sdk/lib/sliding-sync.js";

logger.setLevel(process.env.JSSDK_LOG_LEVEL || "warn");

const [baseUrl] = process.argv.slice(2);
const ROOMS = 30;
const STEP_TIMEOUT_MS = 30000;
const failures = [];
const report = { steps: [], failures };

function step(name) {
  report.steps.push(name);
  console.error(`sliding-jssdk: ${name}`);
}

async function recordingFetch(input, init) {
  const response = await fetch(input, init);
  if (response.status >= 400) {
    const url = new URL(input instanceof Request ? input.url : String(input));
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
  const headers = { "Content-Type": "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(`${baseUrl}${path}`, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const json = await response.json();
  if (response.status !== 200) throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(json)}`);
  return json;
}

async function register(name) {
  return raw("POST", "/_matrix/client/v3/register",
             { username: name, password: "pw", auth: { type: "m.login.dummy" } });
}

// Resolves once `check()` is true, re-checking on each of `emitter`'s `events`.
function until(what, emitter, events, check) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)),
                             STEP_TIMEOUT_MS);
    const test = () => {
      if (!check()) return;
      clearTimeout(timer);
      for (const e of events) emitter.off(e, test);
      resolve();
    };
    for (const e of events) emitter.on(e, test);
    test();
  });
}

async function main() {
  // The first user is the server admin, in the admin room: not alice.
  await register("operator");
  const alice = await register("alice");
  const bob = await register("bob");
  const rooms = [];
  for (let i = 0; i < ROOMS; i++) {
    const { room_id } = await raw("POST", "/_matrix/client/v3/createRoom",
                                  { name: `room ${i}`, preset: "public_chat" },
                                  alice.access_token);
    rooms.push(room_id);
  }
  await raw("POST", `/_matrix/client/v3/rooms/${encodeURIComponent(rooms[0])}/join`, {},
            bob.access_token);
  step("setup");

  const client = sdk.createClient({ baseUrl, accessToken: alice.access_token,
                                    userId: alice.user_id, deviceId: alice.device_id,
                                    fetchFn: recordingFetch });
  const lists = new Map([["all", {
    ranges: [[0, 9]], timeline_limit: 1,
    required_state: [["m.room.name", ""], ["m.room.create", ""], ["m.room.member", "$LAZY"],
                     ["m.room.member", "$ME"]],
  }]]);
  const sliding = new SlidingSync(baseUrl, lists, { timeline_limit: 10, required_state: [] },
                                  client, 10000);
  await client.startClient({ slidingSync: sliding });
  const named = () => new Set(client.getRooms().map((r) => r.name));
  await until("the 10 newest rooms", client, [sdk.ClientEvent.Room],
              () => client.getRooms().length >= 10);
  for (let i = ROOMS - 10; i < ROOMS; i++) {
    if (!named().has(`room ${i}`)) throw new Error(`room ${i} missing: ${[...named()]}`);
  }
  if (client.getRooms().length !== 10) throw new Error(`${client.getRooms().length} rooms, not 10`);
  const count = sliding.getListData("all")?.joinedCount;
  if (count !== ROOMS) throw new Error(`list count ${count}, not ${ROOMS}`);
  step("first range");

  sliding.setListRanges("all", [[0, ROOMS - 1]]);
  await until("every room", client, [sdk.ClientEvent.Room],
              () => client.getRooms().length === ROOMS);
  step("whole list");

  const oldest = client.getRoom(rooms[0]);
  const seen = () => oldest.getLiveTimeline().getEvents().some(
    (e) => e.getType() === "m.room.message" && e.getContent().body === "hello alice");
  const txn = `t${Date.now()}`;
  await raw("PUT", `/_matrix/client/v3/rooms/${encodeURIComponent(rooms[0])}/send/m.room.message/${txn}`,
            { msgtype: "m.text", body: "hello alice" }, bob.access_token);
  await until("bob's message", oldest, [sdk.RoomEvent.Timeline], seen);
  step("live message");

  const typing = () => oldest.getMember(bob.user_id)?.typing === true;
  await raw("PUT", `/_matrix/client/v3/rooms/${encodeURIComponent(rooms[0])}/typing/${encodeURIComponent(bob.user_id)}`,
            { typing: true, timeout: 20000 }, bob.access_token);
  await until("bob typing", client, [sdk.RoomMemberEvent.Typing], typing);
  step("typing");

  client.stopClient();
  sliding.stop();
}

main().then(
  () => {
    // Failed HTTP exchanges are judged by the Python side (some are expected).
    report.ok = true;
    console.log(JSON.stringify(report));
    process.exit(0);
  },
  (e) => {
    report.ok = false;
    report.error = String(e?.stack || e);
    console.log(JSON.stringify(report));
    process.exit(1);
  });
