fn main() {
    let text = "hostname = \"x\"\n\n[rootfs]\nreadonly = true\n\n[[mounts]]\ntype = \"tmpfs\"\n\n[command]\nargv = [\"a\"]\nenv = { A = \"b\" }\n";
    let (root, _e) = toml::de::DeTable::parse_recoverable(text);
    for (k, v) in root.get_ref() {
        let s = v.span();
        println!("{} {:?} {:?}", k.get_ref(), s.clone(), &text[s]);
    }
}
