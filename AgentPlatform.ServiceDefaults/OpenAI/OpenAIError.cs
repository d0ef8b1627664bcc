using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace AgentPlatform.ServiceDefaults.OpenAI;

/// <summary>
/// Errors in OpenAI's shape, <c>{"error":{"message","type","param","code"}}</c>, so the official
/// SDKs surface them as they would OpenAI's own. Every service answers its errors this way.
/// </summary>
public static class OpenAIError
{
    public const string InvalidRequest = "invalid_request_error";
    public const string Authentication = "authentication_error";
    public const string Permission = "permission_error";
    public const string NotFound = "not_found_error";
    public const string RateLimit = "rate_limit_error";
    public const string Server = "server_error";
    public const string Upstream = "upstream_error";

    public static async Task WriteAsync(
        HttpContext context, int status, string message, string type, string? code = null, string? param = null)
    {
        var response = context.Response;
        response.StatusCode = status;
        response.ContentType = "application/json";
        await using var writer = new Utf8JsonWriter(response.BodyWriter);
        writer.WriteStartObject();
        writer.WriteStartObject("error");
        writer.WriteString("message", message);
        writer.WriteString("type", type);
        WriteStringOrNull(writer, "param", param);
        WriteStringOrNull(writer, "code", code);
        writer.WriteEndObject();
        writer.WriteEndObject();
        await writer.FlushAsync(context.RequestAborted);
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
