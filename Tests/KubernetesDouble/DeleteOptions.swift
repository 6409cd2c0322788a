/// What `DELETE` was asked to do, from the query or a `DeleteOptions` body.
struct DeleteOptions: Sendable {
    /// `Foreground`, `Background` or `Orphan`; nil for the resource's default.
    var propagationPolicy: String?
    /// `gracePeriodSeconds`.
    var gracePeriodSeconds: Int?
    /// `preconditions.uid`.
    var uid: String?

    /// Refuses the deletion of the object `name` with `uid` when a precondition says another.
    func check(_ resource: APIResource, _ name: String, uid actual: String) throws(APIStatus) {
        if let uid, uid != actual {
            throw APIStatus.conflict(
                resource, name, "Precondition failed: UID in precondition: \(uid), UID in object meta: \(actual)")
        }
    }
}
