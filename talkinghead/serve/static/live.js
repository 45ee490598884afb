// The live demo: the microphone (or a silent track) goes to POST /api/stream/offer over WebRTC; the face and the
// speech come back as one media stream; a data channel carries text to say and each frame's latency.
"use strict";

const $ = (id) => document.getElementById(id);
const live = { pc: null, channel: null, input: null, audio: null, analyser: null, latencies: [], timer: null };
window.live = live;  // for the page's tests

$("token").value = new URLSearchParams(location.search).get("token") || "";

function show(status, error = "") {
  $("status").textContent = status;
  $("error").textContent = error;
}

function headers() {
  const token = $("token").value;
  return token ? { "Content-Type": "application/json", Authorization: `Bearer ${token}` }
               : { "Content-Type": "application/json" };
}

async function loadAvatars() {
  const response = await fetch("/api/avatars", { headers: headers() });
  if (!response.ok) return;
  $("avatar").replaceChildren(...(await response.json()).map((job) => new Option(job.id.slice(0, 8), job.id)));
}

function dataUrl(blob) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });
}

async function portrait() {
  const source = document.querySelector("input[name=source]:checked").value;
  if (source === "avatar") return { avatar: $("avatar").value };
  if (source === "upload") {
    if (!$("upload").files.length) throw new Error("choose an image to upload");
    return { image: await dataUrl($("upload").files[0]) };
  }
  const response = await fetch("/live/example.jpg");
  if (!response.ok) throw new Error((await response.json()).error);
  return { image: await dataUrl(await response.blob()) };
}

async function microphone() {
  if ($("microphone").checked) {
    return navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: true, channelCount: 1 } });
  }
  const silence = live.audio.createMediaStreamDestination();  // a silent track keeps the stream's clock going
  const source = live.audio.createConstantSource();
  source.offset.value = 0;
  source.connect(silence);
  source.start();
  return silence.stream;
}

function gathered(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => pc.addEventListener("icegatheringstatechange", () => {
    if (pc.iceGatheringState === "complete") resolve();
  }));
}

function listen(stream) {
  $("video").srcObject = stream;
  if (!stream.getAudioTracks().length) return;
  live.analyser = live.audio.createAnalyser();
  live.analyser.fftSize = 1024;
  live.audio.createMediaStreamSource(stream).connect(live.analyser);
}

live.level = () => {  // dB of the speech played back, over the last 1024 samples
  if (!live.analyser) return -100;
  const samples = new Float32Array(live.analyser.fftSize);
  live.analyser.getFloatTimeDomainData(samples);
  const power = samples.reduce((sum, x) => sum + x * x, 0) / samples.length;
  return 10 * Math.log10(power + 1e-10);
};

function onMessage(event) {
  const message = JSON.parse(event.data);
  if (message.error) return show($("status").textContent, message.error);
  live.latencies.push(message.latency_ms);
  if (live.latencies.length > 25) live.latencies.shift();
}

async function tick() {
  $("level").value = Math.max(-80, live.level());
  if (live.latencies.length) {
    const sorted = [...live.latencies].sort((a, b) => a - b);
    $("latency").textContent = sorted[sorted.length >> 1].toFixed(0);
  }
  const stats = live.pc ? await live.pc.getStats() : new Map();
  stats.forEach((report) => {
    if (report.type === "inbound-rtp" && report.kind === "video" && report.jitterBufferEmittedCount) {
      $("buffer").textContent = (1000 * report.jitterBufferDelay / report.jitterBufferEmittedCount).toFixed(0);
    }
  });
}

async function start() {
  $("start").disabled = true;
  show("Starting...");
  try {
    live.audio = new AudioContext();
    const request = await portrait();
    live.input = await microphone();
    const pc = live.pc = new RTCPeerConnection();
    live.input.getAudioTracks().forEach((track) => pc.addTrack(track, live.input));
    pc.addTransceiver("video", { direction: "recvonly" });
    live.channel = pc.createDataChannel("live");
    live.channel.onmessage = onMessage;
    live.channel.onopen = () => { $("text").disabled = $("say").disabled = false; };
    pc.ontrack = (event) => { if (event.track.kind === "video") listen(event.streams[0]); };
    pc.onconnectionstatechange = () => {
      show(`Connection ${pc.connectionState}.`);
      if (["failed", "closed"].includes(pc.connectionState)) stop();
    };
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc);
    const options = { size: +$("size").value, head_motion: +$("head_motion").value, seed: +$("seed").value };
    const response = await fetch("/api/stream/offer", {
      method: "POST", headers: headers(),
      body: JSON.stringify({ sdp: pc.localDescription.sdp, type: pc.localDescription.type, options, ...request }),
    });
    const answer = await response.json();
    if (!response.ok) throw new Error(answer.error);
    await pc.setRemoteDescription(answer);
    live.timer = setInterval(tick, 200);
    $("stop").disabled = false;
  } catch (error) {
    stop();
    show("Stopped.", error.message || String(error));
  }
}

function stop() {
  if (live.pc) live.pc.close();
  if (live.input) live.input.getTracks().forEach((track) => track.stop());
  if (live.audio) live.audio.close();
  clearInterval(live.timer);
  Object.assign(live, { pc: null, channel: null, input: null, audio: null, analyser: null, latencies: [] });
  $("start").disabled = false;
  $("stop").disabled = $("text").disabled = $("say").disabled = true;
  if ($("status").textContent !== "Stopped.") show("Stopped.", $("error").textContent);
}

function say() {
  const text = $("text").value.trim();
  if (!text || !live.channel) return;
  live.channel.send(JSON.stringify({ say: text, voice: $("voice").value }));
  $("text").value = "";
}

$("start").onclick = start;
$("stop").onclick = stop;
$("say").onclick = say;
$("text").onkeydown = (event) => { if (event.key === "Enter") say(); };
loadAvatars();
