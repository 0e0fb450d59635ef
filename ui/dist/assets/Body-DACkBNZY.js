import{j as s}from"./index-DvQvqY5W.js";function r({body:e}){const n=e.indexOf(`
`);if(n<0)return s.jsx("span",{className:"log-body",children:e});const l=e.slice(n+1).split(`
`).length;return s.jsxs("span",{className:"log-body",children:[e.slice(0,n),s.jsxs("span",{className:"more-lines","data-testid":"more-lines",title:"Expand the row to read the whole body",children:["+",l," ",l===1?"line":"lines"]})]})}function a({body:e}){return e.includes(`
`)?s.jsx("pre",{className:"stacktrace","data-testid":"body-block",children:e}):s.jsx("pre",{className:"log-full-body",children:e})}export{r as B,a as F};
