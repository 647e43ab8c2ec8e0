//! The keyboard shortcuts, in one table: the key handler looks keys up here, the sidebar shows each page's keys
//! from here, and the `?` overlay lists it, so the three cannot disagree.

/// What a shortcut does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShortcutAction {
    /// Ctrl+Enter: build on the playground (the compose editor runs Up itself).
    Build,
    /// Alt+n: go to a page and focus the element named by the selector.
    Focus {
        page: Page,
        selector: &'static str,
    },
    /// Alt+4: the terminal of the page shown, if it has one.
    FocusTerminal,
    /// Handled by the editor on that page (listed so the overlay and the sidebar tell of it).
    InEditor,
    ShowShortcuts,
    CloseOverlay,
}

/// The pages a shortcut goes to or works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    Playground,
    Compose,
    Containers,
    /// Any page.
    Any,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shortcut {
    /// As people write it: "Alt+2".
    pub keys: &'static str,
    pub description: &'static str,
    /// What the sidebar says on the page, when it says anything.
    pub hint: Option<&'static str>,
    /// Where it works.
    pub on: Page,
    pub action: ShortcutAction,
}

pub const SHORTCUTS: &[Shortcut] = &[
    Shortcut {
        keys: "Ctrl+Enter",
        description: "Build the image",
        hint: Some("Ctrl+Enter builds."),
        on: Page::Playground,
        action: ShortcutAction::Build,
    },
    Shortcut {
        keys: "Ctrl+Enter",
        description: "Up: start the project (in the compose editor)",
        hint: Some("Ctrl+Enter in the editor runs Up."),
        on: Page::Compose,
        action: ShortcutAction::InEditor,
    },
    Shortcut {
        keys: "Alt+1",
        description: "Playground: the Dockerfile editor",
        hint: None,
        on: Page::Any,
        action: ShortcutAction::Focus { page: Page::Playground, selector: ".cm-content" },
    },
    Shortcut {
        keys: "Alt+2",
        description: "Compose: the project editor",
        hint: None,
        on: Page::Any,
        action: ShortcutAction::Focus { page: Page::Compose, selector: ".compose-page .cm-content" },
    },
    Shortcut {
        keys: "Alt+3",
        description: "Containers: the list",
        hint: None,
        on: Page::Any,
        action: ShortcutAction::Focus {
            page: Page::Containers,
            selector: ".containers-table a, .container-cards a, .containers-page button",
        },
    },
    Shortcut {
        keys: "Alt+4",
        description: "The terminal of the container shown",
        hint: None,
        on: Page::Any,
        action: ShortcutAction::FocusTerminal,
    },
    Shortcut {
        keys: "?",
        description: "Show these shortcuts",
        hint: None,
        on: Page::Any,
        action: ShortcutAction::ShowShortcuts,
    },
    Shortcut {
        keys: "Escape",
        description: "Close this list",
        hint: None,
        on: Page::Any,
        action: ShortcutAction::CloseOverlay,
    },
];

/// A key press as the handler sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyPress<'a> {
    pub key: &'a str,
    /// Ctrl, or Cmd on a Mac.
    pub control: bool,
    pub alt: bool,
    /// Focus is in something that takes text (then `?` is a character, not a shortcut).
    pub typing: bool,
}

/// The shortcut a key press means on `page`, if any.
pub fn find(press: KeyPress<'_>, page: Page) -> Option<&'static Shortcut> {
    SHORTCUTS.iter().find(|shortcut| {
        let works_here = shortcut.on == Page::Any || shortcut.on == page;
        works_here && matches(shortcut.keys, press)
    })
}

fn matches(keys: &str, press: KeyPress<'_>) -> bool {
    match keys.split_once('+') {
        Some(("Ctrl", key)) => press.control && !press.alt && press.key == key,
        // Alt+digit: on a Mac's layout Alt changes the character, so the digit is matched as the key's code too
        // (the handler passes `Digit2` mapped to "2").
        Some(("Alt", key)) => press.alt && !press.control && press.key == key,
        _ => !press.control && !press.alt && press.key == keys && (!press.typing || keys != "?"),
    }
}

/// What the sidebar says on a page: the hints of the shortcuts that work there only (the Alt keys sit beside
/// their links).
pub fn page_hints(page: Page) -> impl Iterator<Item = &'static str> {
    SHORTCUTS.iter().filter(move |shortcut| shortcut.on == page).filter_map(|shortcut| shortcut.hint)
}

/// The Alt key that goes to `page`, for its link in the sidebar.
pub fn key_for_page(page: Page) -> Option<&'static str> {
    SHORTCUTS.iter().find_map(|shortcut| match shortcut.action {
        ShortcutAction::Focus { page: target, .. } if target == page => Some(shortcut.keys),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    fn press(key: &str, control: bool, alt: bool, typing: bool) -> KeyPress<'_> {
        KeyPress { key, control, alt, typing }
    }

    #[wasm_bindgen_test]
    fn keys_mean_what_the_table_says_on_each_page() {
        let alt_two = find(press("2", false, true, false), Page::Playground).map(|shortcut| shortcut.action);
        assert!(matches!(alt_two, Some(ShortcutAction::Focus { page: Page::Compose, .. })));
        assert_eq!(
            find(press("Enter", true, false, true), Page::Playground).map(|s| s.action),
            Some(ShortcutAction::Build)
        );
        assert_ne!(
            find(press("Enter", true, false, true), Page::Compose).map(|s| s.action),
            Some(ShortcutAction::Build)
        );
        assert_eq!(
            find(press("?", false, false, false), Page::Any).map(|s| s.action),
            Some(ShortcutAction::ShowShortcuts)
        );
        assert_eq!(find(press("?", false, false, true), Page::Playground), None, "typing a ? in the editor");
        assert_eq!(key_for_page(Page::Compose), Some("Alt+2"));
        assert_eq!(key_for_page(Page::Containers), Some("Alt+3"));
        let compose_hints: Vec<_> = page_hints(Page::Compose).collect();
        assert_eq!(compose_hints, ["Ctrl+Enter in the editor runs Up."]);
        assert_eq!(page_hints(Page::Playground).collect::<Vec<_>>(), ["Ctrl+Enter builds."]);
        assert_eq!(page_hints(Page::Containers).count(), 0);
    }
}
