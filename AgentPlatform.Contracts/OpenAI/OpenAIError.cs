using System.Buffers;
using System.Text.Json;
using AgentPlatform.Contracts.Anthropic;
using Microsoft.AspNetCore.Http;

namespace AgentPlatform.Contracts.OpenAI;

/// <summary>
/// Errors in OpenAI's shape, <c>{"error":{"message","type","param","code"}}</c>, so the official
/// SDKs surface them as they would OpenAI's own. Every service answers its errors this way — but for a
/// request through the Messages door, whose errors are written in Anthropic's shape
/// (<see cref="AnthropicError"/>) by the same calls, so no stage needs to know the door.
/// </summary>
public static class OpenAIError
{
    public const string InvalidRequest = "invalid_request_error";
    public const string Authentication = "authentication_error";
    public const string Permission = "permission_error";
    public const string NotFound = "not_found_error";
    public const string RateLimit = "rate_limit_error";
    public const string InsufficientQuota = "insufficient_quota";
    public const string Server = "server_error";
    public const string Upstream = "upstream_error";

    public static async Task WriteAsync(
        HttpContext context, int status, string message, string type, string? code = null, string? param = null)
    {
        var response = context.Response;
        response.StatusCode = status;
        response.ContentType = "application/json";
        if (AnthropicError.IsMessagesDoor(context.Request))
        {
            AnthropicError.WriteJson(response.BodyWriter, status, message, code);
        }
        else
        {
            WriteJson(response.BodyWriter, message, type, code, param);
        }
        await response.BodyWriter.FlushAsync(context.RequestAborted);
    }

    /// <summary>
    /// Writes the error as a server-sent event, <c>data: {"error":...}</c>, the way OpenAI ends a
    /// stream that fails after it began (the SDKs raise it as an API error). The caller flushes.
    /// </summary>
    public static void WriteEvent(IBufferWriter<byte> output, string message, string type, string? code = null)
    {
        output.Write("data: "u8);
        WriteJson(output, message, type, code, param: null);
        output.Write("\n\n"u8);
    }

    /// <summary>The error event that ends the request's stream, in its door's shape (Anthropic's <c>event: error</c> for Messages). The caller flushes.</summary>
    public static void WriteEvent(HttpContext context, string message, string type, string? code = null)
    {
        var output = context.Response.BodyWriter;
        if (AnthropicError.IsMessagesDoor(context.Request))
        {
            AnthropicError.WriteEvent(output, StatusCodes.Status500InternalServerError, message, code);
            return;
        }
        WriteEvent(output, message, type, code);
    }

    private static void WriteJson(IBufferWriter<byte> output, string message, string type, string? code, string? param)
    {
        using var writer = new Utf8JsonWriter(output);
        WriteObject(writer, message, type, code, param);
    }

    /// <summary>The error object itself, for a caller that writes it inside its own JSON.</summary>
    public static void WriteObject(Utf8JsonWriter writer, string message, string type, string? code = null, string? param = null)
    {
        writer.WriteStartObject();
        writer.WriteStartObject("error");
        writer.WriteString("message", message);
        writer.WriteString("type", type);
        WriteStringOrNull(writer, "param", param);
        WriteStringOrNull(writer, "code", code);
        writer.WriteEndObject();
        writer.WriteEndObject();
    }

    private static void WriteStringOrNull(Utf8JsonWriter writer, string name, string? value)
    {
        if (value is null)
        {
            writer.WriteNull(name);
        }
        else
        {
            writer.WriteString(name, value);
        }
    }
}
