# escape=`
FROM mcr.microsoft.com/windows/servercore:ltsc2022
SHELL ["powershell", "-Command"]
RUN Write-Host `
    hello ; `
    dir C:\
ENV PATH="C:\tools;${PATH}"
WORKDIR C:\app
COPY . .
