// psibot console: choose who you are, chat with the bot, press card buttons, send a barcode photo.
// Everything goes through the HTTP interface documented in docs/console.md.
"use strict";

const log = document.getElementById("log");
const who = document.getElementById("who");
const text = document.getElementById("text");
const photo = document.getElementById("photo");
let stream = null;
let people = [];
const shown = new Map(); // message ref -> element

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value; else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

async function post(url, body, headers = {"Content-Type": "application/json"}) {
  const response = await fetch(url, {method: "POST", headers, body, credentials: "same-origin"});
  if (!response.ok) throw new Error(await response.text());
  return response.json();
}

function renderCard(card, ref) {
  const node = el("div", {class: `card ${card.tone}`, "data-card-id": card.card_id});
  node.append(el("h2", {}, card.title));
  const body = el("div", {class: "body"});
  if (card.fields.length) {
    const dl = el("dl");
    for (const [label, value] of card.fields) dl.append(el("dt", {}, label), el("dd", {}, value));
    body.append(dl);
  }
  for (const table of card.tables) {
    const head = el("tr", {}, ...table.columns.map((c) => el("th", {}, c)));
    const rows = table.rows.map((row) => el("tr", {}, ...row.map((c) => el("td", {}, c))));
    body.append(el("div", {class: "table"}, el("table", {}, el("thead", {}, head), el("tbody", {}, ...rows))));
  }
  if (card.note) body.append(el("div", {class: "note"}, card.note));
  node.append(body);
  if (card.status) {
    node.append(el("div", {class: "status"}, card.status));
  } else if (card.buttons.length) {
    const bar = el("div", {class: "buttons"});
    for (const button of card.buttons) {
      const b = el("button", {class: button.style, type: "button"}, button.label);
      b.addEventListener("click", async () => {
        b.disabled = true;
        try {
          await post("/console/api/actions", JSON.stringify({
            user: who.value, card_id: card.card_id, action: button.action, value: button.value, ref,
          }));
        } finally {
          setTimeout(() => { b.disabled = false; }, 1500);
        }
      });
      bar.append(b);
    }
    node.append(bar);
  }
  return node;
}

function renderReply(reply, ref) {
  switch (reply.type) {
    case "card": return renderCard(reply, ref);
    case "markdown": return el("div", {class: "bubble"}, `${reply.title}\n${reply.markdown}`);
    case "image": return el("img", {src: `data:${reply.mime_type};base64,${reply.data}`, alt: reply.alt});
    default: return el("div", {class: "bubble"}, reply.text);
  }
}

// While the conversation is empty: who you are and what you can say (the help card's lines for your role).
function welcome() {
  const person = people.find((p) => p.id === who.value);
  if (!person) return;
  const list = el("ul");
  for (const {label, text: example} of person.examples || []) {
    const first = example.split(" / ")[0];
    const chip = el("button", {type: "button", title: "放进输入框"}, example);
    chip.addEventListener("click", () => { text.value = first; text.focus(); });
    list.append(el("li", {}, el("span", {class: "label"}, label), chip));
  }
  log.append(el("div", {class: "welcome", id: "welcome"},
    el("h2", {}, `您好，${person.name}（${person.role_name}）`),
    el("p", {}, "直接打字和 psibot 说话，或发一张条码照片。可以试试："), list,
    el("p", {class: "hint"}, "输入“帮助”随时查看。")));
}

function show(record) {
  document.getElementById("welcome")?.remove();
  const node = record.direction === "in"
    ? el("div", {class: "msg in"}, record.text)
    : el("div", {class: "msg out"}, renderReply(record.reply, record.ref));
  node.dataset.ref = record.ref;
  const old = shown.get(record.ref);
  if (old) old.replaceWith(node); else log.append(node);
  shown.set(record.ref, node);
  log.scrollTop = log.scrollHeight;
}

function listen() {
  if (stream) stream.close();
  shown.clear();
  log.replaceChildren();
  welcome();
  stream = new EventSource(`/console/api/stream?user=${encodeURIComponent(who.value)}`);
  stream.addEventListener("message", (event) => show(JSON.parse(event.data)));
}

async function start() {
  const response = await fetch("/console/api/users", {credentials: "same-origin"});
  const {users} = await response.json();
  people = users;
  for (const user of users) who.append(el("option", {value: user.id}, `${user.name} · ${user.role_name}`));
  const remembered = localStorage.getItem("psibot.console.user");
  if (users.some((u) => u.id === remembered)) who.value = remembered;
  who.addEventListener("change", () => { localStorage.setItem("psibot.console.user", who.value); listen(); });
  if (users.length) listen();
}

document.getElementById("composer").addEventListener("submit", async (event) => {
  event.preventDefault();
  const message = text.value.trim();
  if (!message || !who.value) return;
  text.value = "";
  await post("/console/api/messages", JSON.stringify({user: who.value, text: message}));
});

photo.addEventListener("change", async () => {
  const file = photo.files[0];
  if (!file || !who.value) return;
  photo.value = "";
  await post(`/console/api/images?user=${encodeURIComponent(who.value)}`, file,
             {"Content-Type": file.type || "application/octet-stream"});
});

start();
