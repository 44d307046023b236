variable "rules" {
  type = list(object({
    name        = string
    port        = number
    protocol    = string
    cidr        = string
    description = optional(string, "")
  }))
  description = "Ingress rules. Each rule opens one port for one protocol from one CIDR block."

  validation {
    condition     = alltrue([for r in var.rules : r.port >= 1 && r.port <= 65535 && floor(r.port) == r.port])
    error_message = "Every rule port must be a whole number between 1 and 65535."
  }

  validation {
    condition     = alltrue([for r in var.rules : contains(["tcp", "udp"], r.protocol)])
    error_message = "Every rule protocol must be \"tcp\" or \"udp\"."
  }

  validation {
    condition     = alltrue([for r in var.rules : can(cidrhost(r.cidr, 0))])
    error_message = "Every rule cidr must be a valid CIDR block, e.g. 10.0.0.0/8."
  }

  validation {
    condition     = length(distinct([for r in var.rules : r.name])) == length(var.rules)
    error_message = "Rule names must be unique."
  }

  validation {
    condition     = alltrue([for r in var.rules : !(r.port == 22 && r.cidr == "0.0.0.0/0")])
    error_message = "SSH (port 22) must not be open to 0.0.0.0/0."
  }
}

variable "network_id" {
  type        = string
  description = "ID of the network the rules belong to."
}

variable "tags" {
  type        = map(string)
  description = "Tags applied to every rule."
  default     = {}
}
