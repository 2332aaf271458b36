/// The OpenAPI 3 document of the whole HTTP API, served at `GET /openapi.json`; CI checks it
/// with openapi-spec-validator and exercises a running `baton serve` with schemathesis
/// (tools/openapi-check.sh). Edit it together with the routes (HTTPAPI*.swift).
enum OpenAPIDocument {
    static let json = #"""
{
 "openapi": "3.0.3",
 "info": {
  "title": "Baton HTTP API",
  "version": "1.0.0",
  "description": "Calls, switchover, devices and speaker groups, call forwarding, shared calls, agents, service categories, call data and call keys. Events: WebSocket GET /events sends one JSON text frame per switchover step (type \"switchover\") and per shared-call change (type \"shared-call\"). Errors are always {\"error\": {\"message\": \"...\"}} with the HTTP status. See docs/http-api.md."
 },
 "servers": [
  {
   "url": "http://127.0.0.1:8080"
  }
 ],
 "paths": {
  "/healthz": {
   "get": {
    "summary": "Liveness and counts",
    "responses": {
     "200": {
      "description": "ok",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Health"
        }
       }
      }
     }
    }
   }
  },
  "/metrics": {
   "get": {
    "summary": "Prometheus metrics (text format)",
    "responses": {
     "200": {
      "description": "metrics",
      "content": {
       "text/plain": {
        "schema": {
         "type": "string"
        }
       }
      }
     }
    }
   }
  },
  "/openapi.json": {
   "get": {
    "summary": "This document",
    "responses": {
     "200": {
      "description": "OpenAPI 3 document",
      "content": {
       "application/json": {
        "schema": {
         "type": "object"
        }
       }
      }
     }
    }
   }
  },
  "/desktop": {
   "get": {
    "summary": "The agent desktop web page",
    "responses": {
     "200": {
      "description": "HTML page",
      "content": {
       "text/html": {
        "schema": {
         "type": "string"
        }
       }
      }
     }
    }
   }
  },
  "/calls": {
   "get": {
    "summary": "Live and recently ended calls",
    "responses": {
     "200": {
      "description": "calls",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/CallList"
        }
       }
      }
     }
    }
   }
  },
  "/calls/{id}": {
   "parameters": [
    {
     "name": "id",
     "in": "path",
     "required": true,
     "schema": {
      "type": "string"
     },
     "description": "call id"
    }
   ],
   "get": {
    "summary": "One call with its legs and media counters",
    "responses": {
     "200": {
      "description": "call",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Call"
        }
       }
      }
     },
     "404": {
      "description": "error",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     }
    }
   }
  },
  "/calls/{id}/switchover": {
   "parameters": [
    {
     "name": "id",
     "in": "path",
     "required": true,
     "schema": {
      "type": "string"
     },
     "description": "call id"
    }
   ],
   "post": {
    "summary": "Move one side of the call to another device (make-before-break)",
    "requestBody": {
     "required": true,
     "content": {
      "application/json": {
       "schema": {
        "$ref": "#/components/schemas/SwitchoverRequest"
       }
      }
     }
    },
    "responses": {
     "202": {
      "description": "started",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/SwitchoverOperation"
        }
       }
      }
     },
     "400": {
      "description": "error",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     },
     "404": {
      "description": "error",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     },
     "409": {
      "description": "error",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     },
     "503": {
      "description": "error",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     }
    }
   }
  },
  "/calls/{id}/switchovers": {
   "parameters": [
    {
     "name": "id",
     "in": "path",
     "required": true,
     "schema": {
      "type": "string"
     },
     "description": "call id"
    }
   ],
   "get": {
    "summary": "Switchovers of a call",
    "responses": {
     "200": {
      "description": "operations",
      "content": {
       "application/json": {
        "schema": {
         "type": "array",
         "items": {
          "$ref": "#/components/schemas/SwitchoverOperation"
         }
        }
       }
      }
     }
    }
   }
  },
  "/switchovers/{op}": {
   "parameters": [
    {
     "name": "op",
     "in": "path",
     "required": true,
     "schema": {
      "type": "string"
     },
     "description": "operation id"
    }
   ],
   "get": {
    "summary": "One switchover or transfer",
    "responses": {
     "200": {
      "description": "operation",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/SwitchoverOperation"
        }
       }
      }
     },
     "404": {
      "description": "error",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     }
    }
   }
  },
  "/users/{user}/devices": {
   "parameters": [
    {
     "name": "user",
     "in": "path",
     "required": true,
     "schema": {
      "type": "string"
     },
     "description": "user"
    }
   ],
   "get": {
    "summary": "A user's devices",
    "responses": {
     "200": {
      "description": "devices",
      "content": {
       "application/json": {
        "schema": {
         "type": "array",
         "items": {
          "$ref": "#/components/schemas/Device"
         }
        }
       }
      }
     }
    }
   }
  },
  "/users/{user}/devices/{id}": {
   "parameters": [
    {
     "name": "user",
     "in": "path",
     "required": true,
     "schema": {
      "type": "string"
     },
     "description": "user"
    },
    {
     "name": "id",
     "in": "path",
     "required": true,
     "schema": {
      "type": "string"
     },
     "description": "device id"
    }
   ],
   "put": {
    "summary": "Create or replace a device",
    "requestBody": {
     "required": true,
     "content": {
      "application/json": {
       "schema": {
        "$ref": "#/components/schemas/DeviceBody"
       }
      }
     }
    },
    "responses": {
     "200": {
      "description": "device",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Device"
        }
       }
      }
     },
     "400": {
      "description": "error",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     },
     "503": {
      "description": "error",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     }
    }
   },
   "delete": {
    "summary": "Remove a device",
    "responses": {
     "204": {
      "description": "removed"
     },
     "404": {
      "description": "error",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     },
     "400": {
      "description": "error",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     },
     "503": {
      "description": "error",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     }
    }
   }
  },
  "/users/{user}/speakers": {
   "parameters": [
    {
     "name": "user",
     "in": "path",
     "required": true,
     "schema": {
      "type": "string"
     },
     "description": "user"
    }
   ],
   "get": {
    "summary": "A user's speakers and whether each is free",
    "responses": {
     "200": {
      "description": "speakers",
      "content": {
       "application/json": {
        "schema": {
         "type": "array",
         "items": {
          "$ref": "#/components/schemas/Speaker"
         }
        }
       }
      }
     }
    }
   }
  },
  "/forwarding": {
   "get": {
    "summary": "Call-forwarding rules",
    "responses": {
     "200": {
      "description": "rules",
      "content": {
       "application/json": {
        "schema": {
         "type": "array",
         "items": {
          "$ref": "#/components/schemas/ForwardingRule"
         }
        }
       }
      }
     }
    }
   }
  },
  "/forwarding/{number}/{on}": {
   "parameters": [
    {
     "name": "number",
     "in": "path",
     "required": true,
     "schema": {
      "type": "string"
     },
     "description": "called number or user"
    },
    {
     "name": "on",
     "in": "path",
     "required": true,
     "schema": {
      "type": "string",
      "enum": [
       "unconditional",
       "busy",
       "user-busy",
       "no-answer"
      ]
     }
    }
   ],
   "put": {
    "summary": "Set a forwarding rule",
    "requestBody": {
     "required": true,
     "content": {
      "application/json": {
       "schema": {
        "$ref": "#/components/schemas/ForwardingBody"
       }
      }
     }
    },
    "responses": {
     "200": {
      "description": "rule",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/ForwardingRule"
        }
       }
      }
     },
     "400": {
      "description": "error",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     }
    }
   },
   "delete": {
    "summary": "Remove a forwarding rule",
    "responses": {
     "204": {
      "description": "removed"
     },
     "400": {
      "description": "error",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     },
     "404": {
      "description": "error",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     }
    }
   }
  },
  "/agents": {
   "get": {
    "summary": "Agents with their logins",
    "responses": {
     "200": {
      "description": "agents",
      "content": {
       "application/json": {
        "schema": {
         "type": "array",
         "items": {
          "$ref": "#/components/schemas/Agent"
         }
        }
       }
      }
     }
    }
   }
  },
  "/agents/{id}": {
   "parameters": [
    {
     "name": "id",
     "in": "path",
     "required": true,
     "schema": {
      "type": "string"
     },
     "description": "agent id"
    }
   ],
   "get": {
    "summary": "One agent",
    "responses": {
     "200": {
      "description": "agent",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Agent"
        }
       }
      }
     },
     "404": {
      "description": "error",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     }
    }
   },
   "put": {
    "summary": "Create or replace an agent (logins are kept)",
    "requestBody": {
     "required": true,
     "content": {
      "application/json": {
       "schema": {
        "$ref": "#/components/schemas/AgentBody"
       }
      }
     }
    },
    "responses": {
     "200": {
      "description": "agent",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Agent"
        }
       }
      }
     },
     "400": {
      "description": "error",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     },
     "503": {
      "description": "error",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     }
    }
   },
   "delete": {
    "summary": "Remove an agent",
    "responses": {
     "204": {
      "description": "removed"
     },
     "404": {
      "description": "error",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     },
     "503": {
      "description": "error",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     }
    }
   }
  },
  "/agents/{id}/logins/{system}": {
   "parameters": [
    {
     "name": "id",
     "in": "path",
     "required": true,
     "schema": {
      "type": "string"
     },
     "description": "agent id"
    },
    {
     "name": "system",
     "in": "path",
     "required": true,
     "schema": {
      "type": "string"
     },
     "description": "desktop, sip-phone or another system"
    }
   ],
   "put": {
    "summary": "Log an agent in or out on one system",
    "requestBody": {
     "required": true,
     "content": {
      "application/json": {
       "schema": {
        "$ref": "#/components/schemas/LoginBody"
       }
      }
     }
    },
    "responses": {
     "200": {
      "description": "agent",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Agent"
        }
       }
      }
     },
     "400": {
      "description": "error",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     },
     "404": {
      "description": "error",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     },
     "503": {
      "description": "error",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     }
    }
   }
  },
  "/categories": {
   "get": {
    "summary": "The service-category directory",
    "responses": {
     "200": {
      "description": "categories",
      "content": {
       "application/json": {
        "schema": {
         "type": "array",
         "items": {
          "$ref": "#/components/schemas/Category"
         }
        }
       }
      }
     }
    }
   }
  },
  "/categories/{id}": {
   "parameters": [
    {
     "name": "id",
     "in": "path",
     "required": true,
     "schema": {
      "type": "string"
     },
     "description": "category id"
    }
   ],
   "get": {
    "summary": "One category",
    "responses": {
     "200": {
      "description": "category",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Category"
        }
       }
      }
     },
     "404": {
      "description": "error",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     }
    }
   },
   "put": {
    "summary": "Create or replace a category",
    "requestBody": {
     "required": true,
     "content": {
      "application/json": {
       "schema": {
        "$ref": "#/components/schemas/CategoryBody"
       }
      }
     }
    },
    "responses": {
     "200": {
      "description": "category",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Category"
        }
       }
      }
     },
     "400": {
      "description": "error",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     },
     "503": {
      "description": "error",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     }
    }
   },
   "delete": {
    "summary": "Remove a category",
    "responses": {
     "204": {
      "description": "removed"
     },
     "404": {
      "description": "error",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     },
     "503": {
      "description": "error",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     }
    }
   }
  },
  "/calls/{id}/data": {
   "parameters": [
    {
     "name": "id",
     "in": "path",
     "required": true,
     "schema": {
      "type": "string"
     },
     "description": "call id"
    },
    {
     "name": "X-Baton-Tenant",
     "in": "header",
     "required": false,
     "schema": {
      "type": "string",
      "minLength": 1,
      "maxLength": 64
     },
     "description": "tenant of call data and keys (default: contact_center.tenant)"
    }
   ],
   "get": {
    "summary": "The call's data",
    "responses": {
     "200": {
      "description": "data",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/CallData"
        }
       }
      }
     },
     "400": {
      "description": "error",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     },
     "404": {
      "description": "error",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     },
     "503": {
      "description": "error",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     }
    }
   },
   "post": {
    "summary": "Add to the call's data (values replace, transcript lines append, fields merge)",
    "requestBody": {
     "required": true,
     "content": {
      "application/json": {
       "schema": {
        "$ref": "#/components/schemas/CallDataUpdate"
       }
      }
     }
    },
    "responses": {
     "200": {
      "description": "data",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/CallData"
        }
       }
      }
     },
     "400": {
      "description": "error",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     },
     "404": {
      "description": "error",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     },
     "503": {
      "description": "error",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     }
    }
   }
  },
  "/calls/{id}/keys": {
   "parameters": [
    {
     "name": "id",
     "in": "path",
     "required": true,
     "schema": {
      "type": "string"
     },
     "description": "call id"
    },
    {
     "name": "X-Baton-Tenant",
     "in": "header",
     "required": false,
     "schema": {
      "type": "string",
      "minLength": 1,
      "maxLength": 64
     },
     "description": "tenant of call data and keys (default: contact_center.tenant)"
    }
   ],
   "post": {
    "summary": "Issue a call key for the call's data",
    "requestBody": {
     "required": true,
     "content": {
      "application/json": {
       "schema": {
        "$ref": "#/components/schemas/KeyBody"
       }
      }
     }
    },
    "responses": {
     "201": {
      "description": "key",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/CallKey"
        }
       }
      }
     },
     "400": {
      "description": "error",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     },
     "404": {
      "description": "error",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     },
     "503": {
      "description": "error",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     }
    }
   }
  },
  "/call-keys/{key}": {
   "parameters": [
    {
     "name": "key",
     "in": "path",
     "required": true,
     "schema": {
      "type": "string"
     },
     "description": "the digits"
    },
    {
     "name": "X-Baton-Tenant",
     "in": "header",
     "required": false,
     "schema": {
      "type": "string",
      "minLength": 1,
      "maxLength": 64
     },
     "description": "tenant of call data and keys (default: contact_center.tenant)"
    }
   ],
   "get": {
    "summary": "Redeem a call key: the call data it stands for",
    "responses": {
     "200": {
      "description": "data",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/KeyView"
        }
       }
      }
     },
     "400": {
      "description": "error",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     },
     "404": {
      "description": "error",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     },
     "410": {
      "description": "error",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     },
     "503": {
      "description": "error",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     }
    }
   }
  },
  "/calls/{id}/transfer": {
   "parameters": [
    {
     "name": "id",
     "in": "path",
     "required": true,
     "schema": {
      "type": "string"
     },
     "description": "call id"
    },
    {
     "name": "X-Baton-Tenant",
     "in": "header",
     "required": false,
     "schema": {
      "type": "string",
      "minLength": 1,
      "maxLength": 64
     },
     "description": "tenant of call data and keys (default: contact_center.tenant)"
    }
   ],
   "post": {
    "summary": "Transfer the call to an agent, category or target; the new leg carries only a call key",
    "requestBody": {
     "required": true,
     "content": {
      "application/json": {
       "schema": {
        "$ref": "#/components/schemas/TransferRequest"
       }
      }
     }
    },
    "responses": {
     "202": {
      "description": "started",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/TransferResult"
        }
       }
      }
     },
     "400": {
      "description": "error",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     },
     "404": {
      "description": "error",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     },
     "409": {
      "description": "error",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     },
     "503": {
      "description": "error",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     }
    }
   }
  },
  "/shared-calls": {
   "get": {
    "summary": "Shared call operations",
    "parameters": [
     {
      "name": "user",
      "in": "query",
      "required": false,
      "schema": {
       "type": "string"
      },
      "description": "only operations this user takes part in"
     }
    ],
    "responses": {
     "200": {
      "description": "operations",
      "content": {
       "application/json": {
        "schema": {
         "type": "array",
         "items": {
          "$ref": "#/components/schemas/SharedCall"
         }
        }
       }
      }
     }
    }
   }
  },
  "/shared-calls/{id}": {
   "parameters": [
    {
     "name": "id",
     "in": "path",
     "required": true,
     "schema": {
      "type": "string"
     },
     "description": "user call identifier"
    }
   ],
   "get": {
    "summary": "Members, statuses, global state and history",
    "responses": {
     "200": {
      "description": "operation",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/SharedCall"
        }
       }
      }
     },
     "404": {
      "description": "error",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     }
    }
   }
  },
  "/shared-calls/{id}/members": {
   "parameters": [
    {
     "name": "id",
     "in": "path",
     "required": true,
     "schema": {
      "type": "string"
     },
     "description": "user call identifier"
    }
   ],
   "post": {
    "summary": "Join a call to this shared operation",
    "requestBody": {
     "required": true,
     "content": {
      "application/json": {
       "schema": {
        "$ref": "#/components/schemas/JoinBody"
       }
      }
     }
    },
    "responses": {
     "200": {
      "description": "operation",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/SharedCall"
        }
       }
      }
     },
     "400": {
      "description": "error",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     },
     "404": {
      "description": "error",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     },
     "409": {
      "description": "error",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     }
    }
   }
  }
 },
 "components": {
  "schemas": {
   "Error": {
    "type": "object",
    "properties": {
     "error": {
      "type": "object",
      "properties": {
       "message": {
        "type": "string"
       }
      },
      "required": [
       "message"
      ]
     }
    },
    "required": [
     "error"
    ]
   },
   "Health": {
    "type": "object",
    "properties": {
     "status": {
      "type": "string"
     },
     "activeCalls": {
      "type": "integer"
     },
     "activeStreams": {
      "type": "integer"
     }
    },
    "required": [
     "status"
    ]
   },
   "Counters": {
    "type": "object",
    "properties": {},
    "additionalProperties": {
     "type": "integer"
    }
   },
   "Media": {
    "type": "object",
    "properties": {
     "localPort": {
      "type": "integer"
     },
     "advertised": {
      "type": "string"
     },
     "latched": {
      "type": "string"
     },
     "rtp": {
      "$ref": "#/components/schemas/Counters"
     },
     "rtcp": {
      "$ref": "#/components/schemas/Counters"
     }
    }
   },
   "Dialog": {
    "type": "object",
    "properties": {
     "callID": {
      "type": "string"
     },
     "localTag": {
      "type": "string"
     },
     "remoteTag": {
      "type": "string"
     }
    }
   },
   "Leg": {
    "type": "object",
    "properties": {
     "side": {
      "type": "string",
      "enum": [
       "caller",
       "callee"
      ]
     },
     "callID": {
      "type": "string"
     },
     "signaling": {
      "type": "string"
     },
     "dialog": {
      "$ref": "#/components/schemas/Dialog"
     },
     "media": {
      "type": "array",
      "items": {
       "$ref": "#/components/schemas/Media"
      }
     }
    }
   },
   "Call": {
    "type": "object",
    "properties": {
     "id": {
      "type": "string"
     },
     "state": {
      "type": "string",
      "enum": [
       "calling",
       "answered",
       "ended"
      ]
     },
     "from": {
      "type": "string"
     },
     "to": {
      "type": "string"
     },
     "started": {
      "type": "number"
     },
     "answered": {
      "type": "number"
     },
     "ended": {
      "type": "number"
     },
     "hungUpBy": {
      "type": "string"
     },
     "reason": {
      "type": "string"
     },
     "legs": {
      "type": "array",
      "items": {
       "$ref": "#/components/schemas/Leg"
      }
     }
    },
    "required": [
     "id",
     "state"
    ]
   },
   "CallList": {
    "type": "object",
    "properties": {
     "active": {
      "type": "array",
      "items": {
       "$ref": "#/components/schemas/Call"
      }
     },
     "ended": {
      "type": "array",
      "items": {
       "$ref": "#/components/schemas/Call"
      }
     }
    }
   },
   "SwitchoverRequest": {
    "type": "object",
    "properties": {
     "target": {
      "type": "string",
      "description": "SIP URI, AOR, device id, or speaker"
     },
     "mode": {
      "type": "string",
      "enum": [
       "silence",
       "now",
       "window"
      ]
     },
     "window_ms": {
      "type": "integer",
      "minimum": 0,
      "maximum": 10000
     },
     "priming_ms": {
      "type": "integer",
      "minimum": 0,
      "maximum": 10000,
      "description": "How long the new device hears the far party before the splice (default switchover.priming_ms)"
     },
     "leg": {
      "type": "string",
      "enum": [
       "caller",
       "callee"
      ]
     }
    },
    "required": [
     "target"
    ]
   },
   "SwitchoverEvent": {
    "type": "object",
    "properties": {
     "type": {
      "type": "string"
     },
     "operation": {
      "type": "string"
     },
     "call": {
      "type": "string"
     },
     "kind": {
      "type": "string",
      "enum": [
       "requested",
       "ringing",
       "answered",
       "spliced",
       "released",
       "failed"
      ]
     },
     "time": {
      "type": "number"
     },
     "detail": {
      "type": "string"
     },
     "splice": {
      "type": "object"
     }
    }
   },
   "SwitchoverOperation": {
    "type": "object",
    "properties": {
     "id": {
      "type": "string"
     },
     "kind": {
      "type": "string",
      "enum": [
       "switchover",
       "transfer"
      ]
     },
     "call": {
      "type": "string"
     },
     "target": {
      "type": "string"
     },
     "leg": {
      "type": "string"
     },
     "mode": {
      "type": "string"
     },
     "windowMs": {
      "type": "integer"
     },
     "primingMs": {
      "type": "integer"
     },
     "state": {
      "type": "string",
      "enum": [
       "requested",
       "ringing",
       "answered",
       "completed",
       "failed"
      ]
     },
     "reason": {
      "type": "string"
     },
     "events": {
      "type": "array",
      "items": {
       "$ref": "#/components/schemas/SwitchoverEvent"
      }
     }
    },
    "required": [
     "id",
     "state"
    ]
   },
   "DeviceBody": {
    "type": "object",
    "properties": {
     "aor": {
      "type": "string"
     },
     "kind": {
      "type": "string",
      "enum": [
       "phone",
       "speaker",
       "bot",
       "agent",
       "other"
      ]
     },
     "priority": {
      "type": "integer"
     }
    },
    "required": [
     "aor",
     "kind"
    ]
   },
   "Device": {
    "type": "object",
    "properties": {
     "user": {
      "type": "string"
     },
     "id": {
      "type": "string"
     },
     "aor": {
      "type": "string"
     },
     "kind": {
      "type": "string"
     },
     "priority": {
      "type": "integer"
     }
    }
   },
   "Speaker": {
    "type": "object",
    "properties": {
     "device": {
      "$ref": "#/components/schemas/Device"
     },
     "registered": {
      "type": "boolean"
     },
     "busy": {
      "type": "boolean"
     }
    }
   },
   "ForwardingBody": {
    "type": "object",
    "properties": {
     "to": {
      "type": "string",
      "description": "SIP URI"
     },
     "after_s": {
      "type": "integer",
      "minimum": 1,
      "maximum": 600
     }
    },
    "required": [
     "to"
    ]
   },
   "ForwardingRule": {
    "type": "object",
    "properties": {
     "number": {
      "type": "string"
     },
     "to": {
      "type": "string"
     },
     "on": {
      "type": "string"
     },
     "afterSeconds": {
      "type": "integer"
     }
    }
   },
   "Login": {
    "type": "object",
    "properties": {
     "state": {
      "type": "string",
      "enum": [
       "logged-in",
       "logged-out"
      ]
     },
     "since": {
      "type": "number"
     }
    },
    "required": [
     "state"
    ]
   },
   "Agent": {
    "type": "object",
    "properties": {
     "id": {
      "type": "string"
     },
     "name": {
      "type": "string"
     },
     "aor": {
      "type": "string"
     },
     "skills": {
      "type": "array",
      "items": {
       "type": "string"
      }
     },
     "logins": {
      "type": "object",
      "properties": {},
      "additionalProperties": {
       "$ref": "#/components/schemas/Login"
      }
     }
    },
    "required": [
     "id",
     "name"
    ]
   },
   "AgentBody": {
    "type": "object",
    "properties": {
     "name": {
      "type": "string",
      "minLength": 1,
      "maxLength": 200
     },
     "aor": {
      "type": "string",
      "description": "user@host"
     },
     "skills": {
      "type": "array",
      "items": {
       "type": "string"
      }
     }
    },
    "required": [
     "name"
    ]
   },
   "LoginBody": {
    "type": "object",
    "properties": {
     "state": {
      "type": "string",
      "enum": [
       "logged-in",
       "logged-out"
      ]
     }
    },
    "required": [
     "state"
    ]
   },
   "Category": {
    "type": "object",
    "properties": {
     "id": {
      "type": "string"
     },
     "name": {
      "type": "string"
     },
     "description": {
      "type": "string"
     },
     "contacts": {
      "type": "array",
      "items": {
       "type": "string"
      }
     },
     "hours": {
      "type": "string"
     }
    },
    "required": [
     "id",
     "name"
    ]
   },
   "CategoryBody": {
    "type": "object",
    "properties": {
     "name": {
      "type": "string",
      "minLength": 1,
      "maxLength": 200
     },
     "description": {
      "type": "string"
     },
     "contacts": {
      "type": "array",
      "items": {
       "type": "string",
       "description": "sip:, sips: or tel: URI"
      }
     },
     "hours": {
      "type": "string"
     }
    },
    "required": [
     "name"
    ]
   },
   "CallData": {
    "type": "object",
    "properties": {
     "call": {
      "type": "string"
     },
     "account": {
      "type": "string"
     },
     "reason": {
      "type": "string"
     },
     "notes": {
      "type": "string"
     },
     "transcript": {
      "type": "array",
      "items": {
       "type": "string"
      }
     },
     "fields": {
      "type": "object",
      "properties": {},
      "additionalProperties": {
       "type": "string"
      }
     },
     "updated": {
      "type": "number"
     }
    },
    "required": [
     "call"
    ]
   },
   "CallDataUpdate": {
    "type": "object",
    "properties": {
     "account": {
      "type": "string"
     },
     "reason": {
      "type": "string"
     },
     "notes": {
      "type": "string"
     },
     "transcript": {
      "type": "array",
      "items": {
       "type": "string"
      }
     },
     "fields": {
      "type": "object",
      "properties": {},
      "additionalProperties": {
       "type": "string"
      }
     }
    }
   },
   "KeyBody": {
    "type": "object",
    "properties": {
     "ttl_s": {
      "type": "integer",
      "minimum": 1,
      "maximum": 86400
     }
    }
   },
   "CallKey": {
    "type": "object",
    "properties": {
     "key": {
      "type": "string"
     },
     "call": {
      "type": "string"
     },
     "created": {
      "type": "number"
     },
     "expires": {
      "type": "number"
     }
    },
    "required": [
     "key",
     "call",
     "expires"
    ]
   },
   "KeyView": {
    "type": "object",
    "properties": {
     "key": {
      "type": "string"
     },
     "call": {
      "type": "string"
     },
     "expires": {
      "type": "number"
     },
     "data": {
      "$ref": "#/components/schemas/CallData"
     }
    },
    "required": [
     "key",
     "call",
     "data"
    ]
   },
   "TransferRequest": {
    "type": "object",
    "properties": {
     "agent": {
      "type": "string"
     },
     "category": {
      "type": "string"
     },
     "target": {
      "type": "string"
     },
     "leg": {
      "type": "string",
      "enum": [
       "caller",
       "callee"
      ]
     },
     "mode": {
      "type": "string",
      "enum": [
       "silence",
       "now",
       "window"
      ]
     },
     "ttl_s": {
      "type": "integer",
      "minimum": 1,
      "maximum": 86400
     }
    }
   },
   "TransferResult": {
    "type": "object",
    "properties": {
     "operation": {
      "$ref": "#/components/schemas/SwitchoverOperation"
     },
     "key": {
      "$ref": "#/components/schemas/CallKey"
     },
     "target": {
      "type": "string"
     }
    }
   },
   "Member": {
    "type": "object",
    "properties": {
     "id": {
      "type": "string"
     },
     "kind": {
      "type": "string",
      "enum": [
       "call",
       "switchover",
       "transfer",
       "related"
      ]
     },
     "call": {
      "type": "string"
     },
     "status": {
      "type": "string",
      "enum": [
       "trying",
       "ringing",
       "active",
       "held",
       "ended"
      ]
     },
     "since": {
      "type": "number"
     },
     "peer": {
      "type": "string"
     }
    }
   },
   "Change": {
    "type": "object",
    "properties": {
     "time": {
      "type": "number"
     },
     "member": {
      "type": "string"
     },
     "status": {
      "type": "string",
      "enum": [
       "trying",
       "ringing",
       "active",
       "held",
       "ended"
      ]
     },
     "state": {
      "type": "string",
      "enum": [
       "trying",
       "ringing",
       "active",
       "held",
       "ended"
      ]
     }
    }
   },
   "SharedCall": {
    "type": "object",
    "properties": {
     "id": {
      "type": "string"
     },
     "users": {
      "type": "array",
      "items": {
       "type": "string"
      }
     },
     "state": {
      "type": "string",
      "enum": [
       "trying",
       "ringing",
       "active",
       "held",
       "ended"
      ]
     },
     "members": {
      "type": "array",
      "items": {
       "$ref": "#/components/schemas/Member"
      }
     },
     "history": {
      "type": "array",
      "items": {
       "$ref": "#/components/schemas/Change"
      }
     }
    },
    "required": [
     "id",
     "state",
     "members"
    ]
   },
   "JoinBody": {
    "type": "object",
    "properties": {
     "call": {
      "type": "string"
     }
    },
    "required": [
     "call"
    ]
   }
  }
 }
}

"""#
}
