// The guidelines' blocks (core/guidelines.py parses the admin's text) built as elements with text nodes
// only: nothing an admin writes is ever parsed as HTML. Shared by the labeling page and the console.
"use strict";

window.dpoloopGuidelines = (() => {
  function spans(parent, list) {
    for (const span of list) {
      let node;
      if (span.href && /^https?:\/\//.test(span.href)) {
        node = document.createElement("a");
        node.href = span.href;
        node.target = "_blank";
        node.rel = "noopener noreferrer";
      } else if (span.bold) {
        node = document.createElement("strong");
      } else {
        parent.append(document.createTextNode(span.text));
        continue;
      }
      node.textContent = span.text;
      parent.append(node);
    }
  }

  function render(container, blocks) {
    container.replaceChildren();
    for (const block of blocks || []) {
      if (block.type === "ul") {
        const list = document.createElement("ul");
        for (const item of block.items) {
          const li = document.createElement("li");
          spans(li, item);
          list.append(li);
        }
        container.append(list);
      } else {
        const p = document.createElement("p");
        spans(p, block.spans || []);
        container.append(p);
      }
    }
  }

  return { render };
})();
