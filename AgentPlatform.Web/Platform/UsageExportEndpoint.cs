namespace AgentPlatform.Web.Platform;

/// <summary>
/// <c>GET /export/usage?format=csv|jsonl&amp;...</c>: the admin API's usage export, streamed through the
/// console's server (which holds the master key) to a signed-in operator's browser.
/// </summary>
public static class UsageExportEndpoint
{
    public static IEndpointRouteBuilder MapUsageExport(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/export/usage", ExportAsync).RequireAuthorization();
        return endpoints;
    }

    private static async Task ExportAsync(HttpContext context, AdminApiClient admin, string? format)
    {
        if (format is not ("csv" or "jsonl"))
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            await context.Response.WriteAsync("format must be csv or jsonl.", context.RequestAborted);
            return;
        }
        // The filters as the page built them, passed on as they are; the format is the one checked above.
        var query = string.Join('&', context.Request.Query.Where(q => q.Key != "format")
            .SelectMany(q => q.Value.Select(v => $"{Uri.EscapeDataString(q.Key)}={Uri.EscapeDataString(v ?? "")}")));
        HttpResponseMessage upstream;
        try
        {
            upstream = await admin.ExportUsageAsync(query, format, context.RequestAborted);
        }
        catch (HttpRequestException)
        {
            context.Response.StatusCode = StatusCodes.Status502BadGateway;
            await context.Response.WriteAsync("The Api cannot be reached right now; try the export again shortly.", context.RequestAborted);
            return;
        }
        using var _ = upstream;
        context.Response.StatusCode = (int)upstream.StatusCode;
        context.Response.ContentType = upstream.Content.Headers.ContentType?.ToString() ?? "text/plain";
        if (upstream.Content.Headers.ContentDisposition is { } disposition)
        {
            context.Response.Headers.ContentDisposition = disposition.ToString();
        }
        await upstream.Content.CopyToAsync(context.Response.Body, context.RequestAborted);
    }
}
