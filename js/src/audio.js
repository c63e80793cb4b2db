// Audio from the kernel: one request per segment (or 30 s chunk of "play on"), answered by a
// custom message with the clip's bytes, cached as Blob URLs; the <audio> player that plays them.
import { h } from "./dom.js";
import { clipKey } from "./scale.js";
import { SEGMENT_NONE } from "./traits.js";

/**
 * @param {Object} model  the widget model (get, send, on "msg:custom")
 * @param {HTMLElement} root  the widget's element: dataset.audio says what the player does, the
 *   class ee-sound-on that sound is on
 */
export function createAudio(model, root) {
  const player = h("audio", { class: "ee-audio", controls: "", preload: "auto" });
  const cache = new Map();
  const pending = new Map();
  let nextId = 1;
  let unlocked = false;
  let current = null; // {track, segment, chunk}
  let playingOn = false;

  model.on("msg:custom", (msg, buffers) => {
    const wait = pending.get(msg.id);
    if (!wait) return;
    pending.delete(msg.id);
    if (msg.ok && buffers && buffers.length) {
      const dv = buffers[0];
      const blob = new Blob([new Uint8Array(dv.buffer, dv.byteOffset, dv.byteLength)], {
        type: msg.mime,
      });
      wait.resolve(URL.createObjectURL(blob));
    } else {
      wait.reject(new Error(msg.error || "no audio"));
    }
  });

  function fetchClip(track, segment, chunk = null) {
    const key = clipKey(track, segment, chunk, model.get("segment_seconds"), model.get("hop_seconds"));
    if (!cache.has(key)) {
      const id = nextId++;
      const p = new Promise((resolve, reject) => pending.set(id, { resolve, reject }));
      model.send({ type: "audio", id, track, segment, chunk });
      p.catch(() => cache.delete(key));
      cache.set(key, p);
    }
    return cache.get(key);
  }

  async function play(track, segment, chunk = null) {
    current = { track, segment, chunk };
    root.dataset.audio = "loading";
    try {
      const url = await fetchClip(track, segment, chunk);
      if (current.track !== track || current.segment !== segment || current.chunk !== chunk) return;
      player.src = url;
      await player.play();
      root.dataset.audio = "playing";
    } catch (e) {
      root.dataset.audio = `error: ${e.message}`;
    }
  }

  player.addEventListener("ended", () => {
    if (playingOn && current) {
      const chunk = (current.chunk ?? -1) + 1;
      play(current.track, current.segment, chunk).catch(() => (playingOn = false));
    }
  });

  return {
    player,
    get unlocked() {
      return unlocked;
    },
    unlock() {
      unlocked = true;
      root.classList.add("ee-sound-on");
    },
    playSegment(track, segment) {
      playingOn = false;
      return play(track, segment === SEGMENT_NONE ? 0 : segment);
    },
    playOn() {
      if (!current) return;
      playingOn = true;
      play(current.track, current.segment, 0);
    },
    stop() {
      playingOn = false;
      player.pause();
    },
    clear() {
      for (const p of cache.values()) p.then((u) => URL.revokeObjectURL(u)).catch(() => {});
      cache.clear();
    },
  };
}
