// The secretary's desk: the little that needs a script (the pages work without it).
// A button with class "print" prints the page (the print styles leave out the navigation and forms).
document.addEventListener("click", (event) => {
  const target = event.target instanceof Element ? event.target.closest("button.print") : null;
  if (target) {
    event.preventDefault();
    window.print();
  }
});
