using System.Text.Json;
using System.Text.Json.Nodes;

namespace AgentPlatform.Router.Providers.Anthropic;

/// <summary>
/// An OpenAI chat request said in Anthropic's Messages API: system and developer messages become the
/// top-level <c>system</c>; user and assistant turns keep their order, with consecutive turns of one
/// role merged (Anthropic wants them to alternate); tool calls become <c>tool_use</c> blocks and tool
/// messages <c>tool_result</c> blocks of a user turn; images become image blocks; tools, tool choice,
/// stop sequences, temperature, top_p and the end user carry over. <c>max_tokens</c>, optional in
/// OpenAI's API and required in Anthropic's, falls back to the deployment's <c>MaxOutputTokens</c>.
/// </summary>
public static class AnthropicRequestTranslator
{
    public const int DefaultMaxTokens = 4096;

    /// <param name="includeUsage">Whether the client asked for <c>stream_options.include_usage</c>, which Anthropic has no field for.</param>
    public static JsonObject Translate(ReadOnlySpan<byte> openAIBody, string model, int? deploymentMaxOutputTokens, out bool includeUsage)
    {
        if (JsonNode.Parse(openAIBody) is not JsonObject request)
        {
            throw new UntranslatableRequestException("The request body must be a JSON object.", null);
        }
        if (request["messages"] is not JsonArray messages)
        {
            throw new UntranslatableRequestException("'messages' must be an array.", "messages");
        }
        includeUsage = request["stream_options"]?["include_usage"] is JsonValue include && include.GetValueKind() == JsonValueKind.True;

        var (system, turns) = Messages(messages);
        var maxTokens = Integer(request["max_completion_tokens"]) ?? Integer(request["max_tokens"]) ?? deploymentMaxOutputTokens ?? DefaultMaxTokens;
        var result = new JsonObject
        {
            ["model"] = model,
            ["max_tokens"] = maxTokens,
            ["messages"] = turns,
        };
        if (system.Count > 0)
        {
            result["system"] = string.Join("\n\n", system);
        }
        CopySampling(request, result);
        if (request["stream"] is JsonValue stream && stream.GetValueKind() == JsonValueKind.True)
        {
            result["stream"] = true;
        }
        if (JsonFields.String(request["user"]) is { } user)
        {
            result["metadata"] = new JsonObject { ["user_id"] = user };
        }
        if (request["tools"] is JsonArray { Count: > 0 } tools)
        {
            result["tools"] = new JsonArray(tools.Select((tool, index) => (JsonNode?)Tool(tool, index)).ToArray());
            if (ToolChoice(request["tool_choice"], request["parallel_tool_calls"]) is { } choice)
            {
                result["tool_choice"] = choice;
            }
        }
        return result;
    }

    /// <summary>OpenAI's messages as Anthropic's system text and turns (a tool's result is a user turn).</summary>
    private static (List<string> System, JsonArray Turns) Messages(JsonArray messages)
    {
        var system = new List<string>();
        var turns = new JsonArray();
        for (var i = 0; i < messages.Count; i++)
        {
            var message = messages[i] as JsonObject ?? throw new UntranslatableRequestException($"messages[{i}] must be an object.", $"messages[{i}]");
            var role = JsonFields.String(message["role"]);
            var content = message["content"];
            switch (role)
            {
                case "system" or "developer":
                    system.Add(Text(content, $"messages[{i}].content"));
                    break;
                case "user":
                    Append(turns, "user", UserBlocks(content, $"messages[{i}].content"));
                    break;
                case "assistant":
                    Append(turns, "assistant", AssistantBlocks(message, i));
                    break;
                case "tool":
                    Append(turns, "user", [new JsonObject
                    {
                        ["type"] = "tool_result",
                        ["tool_use_id"] = JsonFields.String(message["tool_call_id"])
                            ?? throw new UntranslatableRequestException($"messages[{i}].tool_call_id is required for a tool message.", $"messages[{i}].tool_call_id"),
                        ["content"] = Text(content, $"messages[{i}].content"),
                    }]);
                    break;
                default:
                    throw new UntranslatableRequestException(
                        $"messages[{i}].role '{role}' is not one of system, developer, user, assistant, tool.", $"messages[{i}].role");
            }
        }
        return (system, turns);
    }

    /// <summary>Temperature, top_p and stop, in Anthropic's ranges and names.</summary>
    private static void CopySampling(JsonObject request, JsonObject result)
    {
        if (request["temperature"] is JsonValue temperature && temperature.TryGetValue<double>(out var t))
        {
            result["temperature"] = Math.Min(t, 1.0); // OpenAI's scale runs to 2, Anthropic's to 1
        }
        if (request["top_p"] is JsonValue topP && topP.TryGetValue<double>(out var p))
        {
            result["top_p"] = p;
        }
        switch (request["stop"])
        {
            case JsonValue stop when JsonFields.String(stop) is { } single:
                result["stop_sequences"] = new JsonArray(single);
                break;
            case JsonArray stops:
                result["stop_sequences"] = new JsonArray(stops.Select(s => (JsonNode?)JsonFields.String(s)).ToArray());
                break;
        }
    }

    /// <summary>Adds a turn, or merges it into the previous one when the role is the same.</summary>
    private static void Append(JsonArray turns, string role, List<JsonObject> blocks)
    {
        if (blocks.Count == 0)
        {
            return; // Anthropic rejects empty turns; an empty message says nothing anyway
        }
        if (turns.Count > 0 && turns[^1]!["role"]!.GetValue<string>() == role)
        {
            var content = turns[^1]!["content"]!.AsArray();
            foreach (var block in blocks)
            {
                content.Add(block);
            }
            return;
        }
        turns.Add(new JsonObject { ["role"] = role, ["content"] = new JsonArray([.. blocks]) });
    }

    private static List<JsonObject> UserBlocks(JsonNode? content, string path)
    {
        if (content is not JsonArray parts)
        {
            return TextBlock(Text(content, path));
        }
        var blocks = new List<JsonObject>();
        for (var i = 0; i < parts.Count; i++)
        {
            var part = parts[i];
            switch (JsonFields.String(part?["type"]))
            {
                case "text":
                    blocks.AddRange(TextBlock(JsonFields.String(part!["text"]) ?? ""));
                    break;
                case "image_url":
                    blocks.Add(Image(JsonFields.String(part!["image_url"]?["url"]) ?? JsonFields.String(part["image_url"]), $"{path}[{i}].image_url"));
                    break;
                default:
                    throw new UntranslatableRequestException(
                        $"{path}[{i}].type '{JsonFields.String(part?["type"])}' has no equivalent in Anthropic's API; use text or image_url.", $"{path}[{i}].type");
            }
        }
        return blocks;
    }

    private static List<JsonObject> AssistantBlocks(JsonObject message, int index)
    {
        var blocks = TextBlock(Text(message["content"], $"messages[{index}].content"));
        if (message["tool_calls"] is JsonArray calls)
        {
            for (var j = 0; j < calls.Count; j++)
            {
                var function = calls[j]?["function"];
                var path = $"messages[{index}].tool_calls[{j}]";
                JsonNode? input;
                try
                {
                    input = JsonNode.Parse(JsonFields.String(function?["arguments"]) is { Length: > 0 } arguments ? arguments : "{}");
                }
                catch (JsonException)
                {
                    throw new UntranslatableRequestException($"{path}.function.arguments is not valid JSON.", $"{path}.function.arguments");
                }
                blocks.Add(new JsonObject
                {
                    ["type"] = "tool_use",
                    ["id"] = JsonFields.String(calls[j]?["id"]) ?? throw new UntranslatableRequestException($"{path}.id is required.", $"{path}.id"),
                    ["name"] = JsonFields.String(function?["name"]) ?? throw new UntranslatableRequestException($"{path}.function.name is required.", $"{path}.function.name"),
                    ["input"] = input as JsonObject ?? new JsonObject(),
                });
            }
        }
        return blocks;
    }

    private static JsonObject Image(string? url, string path)
    {
        if (url is null)
        {
            throw new UntranslatableRequestException($"{path}.url is required.", path);
        }
        if (url.StartsWith("data:", StringComparison.Ordinal))
        {
            // data:<media type>;base64,<data>
            var comma = url.IndexOf(',', StringComparison.Ordinal);
            var header = comma > 0 ? url[5..comma] : "";
            if (!header.EndsWith(";base64", StringComparison.Ordinal))
            {
                throw new UntranslatableRequestException($"{path}.url must be a base64 data URL or an http(s) URL.", path);
            }
            return new JsonObject
            {
                ["type"] = "image",
                ["source"] = new JsonObject { ["type"] = "base64", ["media_type"] = header[..^";base64".Length], ["data"] = url[(comma + 1)..] },
            };
        }
        return new JsonObject { ["type"] = "image", ["source"] = new JsonObject { ["type"] = "url", ["url"] = url } };
    }

    private static JsonObject Tool(JsonNode? tool, int index)
    {
        var function = tool?["function"] ?? throw new UntranslatableRequestException($"tools[{index}].function is required.", $"tools[{index}].function");
        var result = new JsonObject
        {
            ["name"] = JsonFields.String(function["name"]) ?? throw new UntranslatableRequestException($"tools[{index}].function.name is required.", $"tools[{index}].function.name"),
            ["input_schema"] = function["parameters"]?.DeepClone() ?? new JsonObject { ["type"] = "object", ["properties"] = new JsonObject() },
        };
        if (JsonFields.String(function["description"]) is { } description)
        {
            result["description"] = description;
        }
        return result;
    }

    private static JsonObject? ToolChoice(JsonNode? choice, JsonNode? parallelToolCalls)
    {
        var result = JsonFields.String(choice) switch
        {
            "none" => new JsonObject { ["type"] = "none" },
            "required" => new JsonObject { ["type"] = "any" },
            "auto" => new JsonObject { ["type"] = "auto" },
            _ when JsonFields.String(choice?["function"]?["name"]) is { } name => new JsonObject { ["type"] = "tool", ["name"] = name },
            _ => null,
        };
        if (parallelToolCalls is JsonValue parallel && parallel.GetValueKind() == JsonValueKind.False)
        {
            result ??= new JsonObject { ["type"] = "auto" };
            if (result["type"]!.GetValue<string>() != "none")
            {
                result["disable_parallel_tool_use"] = true;
            }
        }
        return result;
    }

    private static List<JsonObject> TextBlock(string text) =>
        text.Length == 0 ? [] : [new JsonObject { ["type"] = "text", ["text"] = text }];

    /// <summary>A message's text: a string, or the text parts of an array, joined.</summary>
    private static string Text(JsonNode? content, string path) => content switch
    {
        null => "",
        JsonArray parts => string.Join("\n", parts.Select((p, i) => JsonFields.String(p?["type"]) == "text"
            ? JsonFields.String(p!["text"]) ?? ""
            : throw new UntranslatableRequestException($"{path}[{i}] must be a text part here.", $"{path}[{i}]"))),
        _ => JsonFields.String(content) ?? throw new UntranslatableRequestException($"{path} must be a string or an array of parts.", path),
    };

    private static int? Integer(JsonNode? node) =>
        node is JsonValue value && value.TryGetValue<int>(out var number) ? number : null;
}
