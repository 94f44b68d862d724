// Remembers a scroll container's position across being hidden (tab panels are display:none when
// inactive, which drops their scroll offset) and applies a restored position once the container is
// visible and its content is tall enough.
import type { ScrollPos } from './uiState';

export class ScrollKeeper {
  private pos: ScrollPos = { top: 0, left: 0 };
  private pending = false;
  private contentReady = false;
  private readonly observer: ResizeObserver;

  constructor(
    private readonly scroller: HTMLElement,
    private readonly onChange: () => void,
    onResize: () => void = () => undefined,
  ) {
    scroller.addEventListener('scroll', () => {
      // A hidden container reports 0; that is not where the user left it.
      if (scroller.clientHeight === 0 || this.pending) return;
      this.pos = { top: scroller.scrollTop, left: scroller.scrollLeft };
      this.onChange();
    }, { passive: true });
    this.observer = new ResizeObserver(() => {
      onResize();
      if (scroller.clientHeight > 0 && (scroller.scrollTop !== this.pos.top || scroller.scrollLeft !== this.pos.left)) this.pending = true;
      this.apply();
    });
    this.observer.observe(scroller);
  }

  get position(): ScrollPos {
    return this.pos;
  }

  /** Scrolls to `pos` now if possible, otherwise as soon as the container is shown and filled. */
  restore(pos: ScrollPos): void {
    this.pos = pos;
    this.pending = true;
    this.apply();
  }

  /** The content has its real size (data rendered): a pending restore can be applied. */
  contentRendered(): void {
    this.contentReady = true;
    this.apply();
  }

  private apply(): void {
    if (!this.pending || !this.contentReady || this.scroller.clientHeight === 0) return;
    this.scroller.scrollTop = this.pos.top;
    this.scroller.scrollLeft = this.pos.left;
    this.pending = false;
  }

  disconnect(): void {
    this.observer.disconnect();
  }
}
