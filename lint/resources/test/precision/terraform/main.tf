# ok: Terraform resource attributes are references
resource "kubernetes_secret" "db" {
  data = {
    password  = random_password.db.result
    secret_id = google_secret_manager_secret.db.id
    api_key   = var.api_key
  }
}
