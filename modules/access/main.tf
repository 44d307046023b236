resource "terraform_data" "rule" {
  for_each = { for r in var.rules : r.name => r }

  input = {
    name        = each.value.name
    port        = each.value.port
    protocol    = each.value.protocol
    cidr        = each.value.cidr
    description = each.value.description
    network_id  = var.network_id
    tags        = var.tags
  }
}
