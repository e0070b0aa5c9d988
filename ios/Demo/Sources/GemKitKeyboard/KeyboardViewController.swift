#if canImport(UIKit)
import GemKitDemoCore
import UIKit

/// The demo keyboard: a "fix" key that corrects the paragraph before the cursor, and the key to
/// the next keyboard. The model is the one the demo app downloaded into the app group's
/// container (so the keyboard needs Full Access, RequestsOpenAccess in its Info.plist); it loads
/// on the first fix and stays loaded while iOS keeps the extension's process. Its Objective-C
/// name is the Info.plist's NSExtensionPrincipalClass.
@objc(GemKitKeyboardViewController)
public final class KeyboardViewController: UIInputViewController {
    private lazy var fixer = KeyboardFixModel(modelFile: DemoStorage.defaultModelFile)
    private let status = UILabel()

    public override func viewDidLoad() {
        super.viewDidLoad()
        let fix = UIButton(configuration: .filled(), primaryAction: UIAction(title: "Fix") { [weak self] _ in self?.fixText() })
        let next = UIButton(configuration: .plain())
        next.setImage(UIImage(systemName: "globe"), for: .normal)
        next.addTarget(self, action: #selector(handleInputModeList(from:with:)), for: .allTouchEvents)
        next.isHidden = !needsInputModeSwitchKey
        status.font = .preferredFont(forTextStyle: .footnote)
        status.textColor = .secondaryLabel
        let row = UIStackView(arrangedSubviews: [next, status, fix])
        row.spacing = 12
        row.alignment = .center
        row.translatesAutoresizingMaskIntoConstraints = false
        view.addSubview(row)
        NSLayoutConstraint.activate([
            row.leadingAnchor.constraint(equalTo: view.layoutMarginsGuide.leadingAnchor),
            row.trailingAnchor.constraint(equalTo: view.layoutMarginsGuide.trailingAnchor),
            row.topAnchor.constraint(equalTo: view.topAnchor, constant: 8),
            row.bottomAnchor.constraint(equalTo: view.bottomAnchor, constant: -8),
        ])
    }

    private func fixText() {
        guard hasFullAccess else {
            status.text = "Allow Full Access to read the model"
            return
        }
        status.text = "Fixing…"
        Task {
            let edit = await fixer.fix(ProxyDocument(textDocumentProxy))
            status.text = fixer.error?.localizedDescription ?? (edit == nil ? "Nothing to fix" : "Fixed")
        }
    }
}

/// The host app's text as the fix key's TextDocument.
@MainActor
final class ProxyDocument: TextDocument {
    private let proxy: UITextDocumentProxy

    init(_ proxy: UITextDocumentProxy) {
        self.proxy = proxy
    }

    var documentContextBeforeInput: String? { proxy.documentContextBeforeInput }
    func deleteBackward() { proxy.deleteBackward() }
    func insertText(_ text: String) { proxy.insertText(text) }
}
#endif
